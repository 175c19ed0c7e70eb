"""Browser fixtures: the app on a live local server with real CSRF, Debian's headless Chromium
driven by Playwright, pages signed in through the real login form, and failure screenshots."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from tests.web.conftest import DEMO_PASSWORD, demo_db, make_app  # noqa: F401 (demo_db is a fixture)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT: ViewportSize = {"width": 1366, "height": 900}
TIMEOUT_MS = 10_000
Step = Callable[[Page, str], AbstractContextManager[None]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the pages in headless Chromium (Playwright)")


@dataclass(frozen=True)
class LiveServer:
    """The app served over real HTTP on 127.0.0.1."""

    url: str
    app: Flask


@contextmanager
def serve(app: Flask) -> Iterator[LiveServer]:
    """Serve `app` on a free local port in a background thread until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch Debian's Chromium headless (Playwright's own browser downloads are never used)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def new_context(browser: Browser, base_url: str) -> BrowserContext:
    """A fresh browser profile as a user in the county would have it: Chinese, Beijing time."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def visit(page: Page, path: str) -> None:
    """Go to `path` and insist on a successful answer (a 404 fails at once, not after a locator timeout)."""
    response = page.goto(path)
    assert response is not None and response.ok, f"GET {path} answered {response.status if response else None}"


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form and land on the inbox."""
    visit(page, "/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"^https?://[^/]+/(\?.*)?$"))


def set_field(scope: Page | Locator, name: str, value: str) -> None:
    """Give the form field called `name` a value, whatever its widget (select, radio, checkbox, text)."""
    field = scope.locator(f"[name='{name}']").first
    tag, kind = field.evaluate("e => [e.tagName.toLowerCase(), (e.type || '').toLowerCase()]")
    if tag == "select":
        field.select_option(value)
    elif kind in ("radio", "checkbox"):
        scope.locator(f"input[name='{name}'][value='{value}']").check()
    else:
        field.fill(value)


@pytest.fixture
def live_server(demo_db: str, tmp_path: Path) -> Iterator[LiveServer]:  # noqa: F811 (fixture argument)
    """The app on the demo database, with CSRF protection on, served on a free local port."""
    with serve(make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True)) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the session; skipped where it is missing, except in CI where that fails."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium); Playwright's own browsers are not used"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: browser tests must run in CI", pytrace=False)
        pytest.skip(reason)
    playwright = sync_playwright().start()
    try:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page_for(browser: Browser, live_server: LiveServer, step: Step) -> Iterator[Callable[[str], Page]]:
    """Return a function giving a page in a fresh browser context, signed in as a demo user."""
    contexts: list[BrowserContext] = []

    def open_as(username: str) -> Page:
        context = new_context(browser, live_server.url)
        contexts.append(context)
        page = context.new_page()
        with step(page, f"sign in as {username}"):
            sign_in(page, username)
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def anonymous_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A page in a fresh browser context, not signed in."""
    context = new_context(browser, live_server.url)
    yield context.new_page()
    context.close()


@pytest.fixture
def step(tmp_path: Path) -> Step:
    """Return a context manager naming a step; a failure inside it saves a screenshot and names its path."""
    shots = iter(range(1, 1000))

    @contextmanager
    def run(page: Page, what: str) -> Iterator[None]:
        try:
            yield
        except (AssertionError, PlaywrightError) as failure:
            shot = tmp_path / f"failure-{next(shots):02d}-{re.sub(r'[^A-Za-z0-9]+', '-', what).strip('-')}.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
                where = f"screenshot: {shot} (page {page.url})"
            except PlaywrightError as error:
                where = f"no screenshot ({error})"
            raise AssertionError(f"{what}: {failure}\n{where}") from failure

    return run
