"""Browser fixtures: the app on a live local server with real CSRF, Debian's headless Chromium
driven by Playwright, pages signed in through the real login form, and failure screenshots."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.support.browser import (
    CHROMIUM,
    PAGE_PROBLEMS,
    LiveServer,
    Step,
    launch_chromium,
    new_context,
    phone_context,
    serve,
    sign_in,
)
from tests.support.web import make_app


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the pages in headless Chromium (Playwright)")


@pytest.fixture(autouse=True)
def no_page_problems() -> Iterator[None]:
    """Fail the test, at teardown (after its browser contexts closed), on any CSP violation or uncaught
    script error a page reported."""
    PAGE_PROBLEMS.seen.clear()
    yield
    seen, PAGE_PROBLEMS.seen[:] = list(PAGE_PROBLEMS.seen), []
    if seen:
        pytest.fail("the pages reported problems:\n" + "\n".join(seen), pytrace=False)


@pytest.fixture
def live_server(demo_db: str, tmp_path: Path) -> Iterator[LiveServer]:
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
def phone_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A page on a phone (390 × 844, touch), not signed in."""
    context = phone_context(browser, live_server.url)
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
