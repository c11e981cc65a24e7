"""A real Chromium tab on pytest-django's live server, watching what the page asks for."""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.db import connections
from playwright.sync_api import Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass
class Tab:
    page: Page
    base_url: str
    foreign_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def log_in(self, username: str, password: str) -> None:
        self.open("/accounts/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.base_url + "/home/")  # LOGIN_REDIRECT_URL: the reviewer home

    def assert_stayed_local_and_quiet(self) -> None:
        """No request left the server's origin; no CSP violation or script error was logged."""
        assert self.foreign_requests == []
        assert self.console_errors == []


@pytest.fixture
def tab(live_server, transactional_db, chromium_path):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(10_000)
        opened = Tab(page=page, base_url=live_server.url)

        def on_request(request):
            parts = urlsplit(request.url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
                opened.foreign_requests.append(request.url)

        def on_console(message):
            if message.type == "error" or "Content Security Policy" in message.text:
                opened.console_errors.append(message.text)

        page.on("request", on_request)
        page.on("console", on_console)
        page.on("pageerror", lambda error: opened.console_errors.append(str(error)))
        yield opened
        browser.close()
        # Playwright's event loop makes Django keep the connections opened meanwhile apart from
        # the test's own; left open, PostgreSQL refuses to drop the test database at the end.
        connections.close_all()
