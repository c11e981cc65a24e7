"""Serves the installed plotly package's own plotly.js as `vendor/plotly.min.js`.

The figures are built by plotly.py and drawn by plotly.js: taking the bundle from the package
keeps the two at the versions made for each other, with no 5 MB copy committed and no CDN (the
Content-Security-Policy allows scripts from this origin only). collectstatic and WhiteNoise find
it like any other static file.
"""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PREFIX = "vendor"
NAME = "plotly.min.js"
PACKAGE_DATA = Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=PACKAGE_DATA)
        self.storage.prefix = PREFIX  # type: ignore[attr-defined]  # read by collectstatic

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != f"{PREFIX}/{NAME}":
            return [] if find_all else None
        found = str(PACKAGE_DATA / NAME)
        return [found] if find_all else found

    def list(self, ignore_patterns):
        yield NAME, self.storage
