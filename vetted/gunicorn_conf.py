"""How gunicorn serves Vetted; `make run`, the Docker image, docker compose and `make bench` use it.

Two processes per core, two threads each. A push is mostly Python holding the GIL, so threads of
one process queue for it while the other core idles: on the 2-core bench machine, 4 processes x
2 threads registered versions about 40 % faster than 2 x 4 (docs/benchmarks.md). The second
thread keeps a process serving while a slow client downloads a large artifact.
`WEB_CONCURRENCY` (processes) and `WEB_THREADS` override; command-line flags override both.
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * len(os.sched_getaffinity(0)))
threads = int(os.environ.get("WEB_THREADS") or 2)
timeout = 300
# An idle connection stays open 5 s, more than the 2 s between the CLI's looks at a running
# evaluation: at gunicorn's default of 2 s the server closed it just as the next look was sent on
# it, and the look came back "connection reset" (found with `vetted evaluate --wait`).
keepalive = 5
# gunicorn 27's control socket (for `gunicornc`) sits at one path per user, so a second instance on
# the machine (make bench beside make run) would take it over; nothing here uses it.
control_socket_disable = True
