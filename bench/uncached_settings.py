"""Vetted's settings without the resolve answer cache, for "resolve without the cache".

Every resolve then runs its query and renders its answer, as the first request after a change
does. `bench/run.sh` serves a second gunicorn with these settings beside the normal one.
"""

from vetted.settings import *  # noqa: F403

CACHES = CACHES | {"resolve": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}  # noqa: F405
