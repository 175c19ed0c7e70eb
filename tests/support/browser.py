"""Browser helpers: the app on a live local server, Debian's headless Chromium, signing in, filling fields."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    WebError,
    expect,
)
from werkzeug.serving import make_server

from tests.support.web import DEMO_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT: ViewportSize = {"width": 1366, "height": 900}
PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
TABLET_VIEWPORT: ViewportSize = {"width": 800, "height": 1280}  # a window's rating tablet, upright
TIMEOUT_MS = 10_000
ONLINE_APPLICATION = {"name": "王五", "id_number": "34052419800101001X", "phone": "13700137000", "township": "T01",
                      "village": "T01V02", "request": "失业后生活困难，申请临时救助", "consent": "1"}
Step = Callable[[Page, str], AbstractContextManager[None]]


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


class PageProblems:
    """What the pages must never do, as the browser reports it: a Content-Security-Policy violation in the
    console, or a script error nobody caught. Every context the helpers below open is watched; the browser
    tests' autouse fixture fails a test that saw any (tests/browser/conftest.py)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, context: BrowserContext) -> None:
        """Record the problems of every page of `context`."""
        context.on("console", self._console)
        context.on("weberror", self._error)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.seen.append(f"CSP violation on {message.page.url if message.page else '?'}: {message.text}")

    def _error(self, error: WebError) -> None:
        self.seen.append(f"uncaught script error on {error.page.url if error.page else '?'}: {error.error}")


PAGE_PROBLEMS = PageProblems()


def _watched(context: BrowserContext) -> BrowserContext:
    context.set_default_timeout(TIMEOUT_MS)
    PAGE_PROBLEMS.watch(context)
    return context


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch Debian's Chromium headless (Playwright's own browser downloads are never used)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def new_context(browser: Browser, base_url: str) -> BrowserContext:
    """A fresh browser profile as a user in the county would have it: Chinese, Beijing time."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=VIEWPORT)
    return _watched(context)


def phone_context(browser: Browser, base_url: str) -> BrowserContext:
    """A fresh profile on a phone (390 × 844, touch, the page's own viewport meta): Chinese, Beijing time."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True)
    return _watched(context)


def tablet_context(browser: Browser, base_url: str) -> BrowserContext:
    """A fresh profile on a window's tablet (800 × 1280, touch): Chinese, Beijing time."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=TABLET_VIEWPORT, has_touch=True)
    return _watched(context)


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


def apply_online(page: Page, application: dict[str, str] = ONLINE_APPLICATION) -> tuple[str, str]:
    """Apply on the portal's form and return the case number and query code of the confirmation page."""
    visit(page, "/portal/apply")
    for name, value in application.items():
        set_field(page, name, value)
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("#case-no")).to_have_text(re.compile(r"^\s*SJ\d{12}\s*$"))
    return page.locator("#case-no").inner_text().strip(), page.locator("#query-code").inner_text().strip()


def open_task(page: Page, case_no: str, name: str) -> None:
    """Open the case's open task `name` from the inbox and claim it."""
    visit(page, "/")
    page.locator("table#tasks tr[data-task-id]").filter(has_text=case_no).get_by_role(
        "link", name=name, exact=True).click()
    if page.get_by_role("button", name="认领").count():
        page.get_by_role("button", name="认领").click()
    expect(page.locator("#task-form")).to_be_visible()


def submit(page: Page) -> None:
    """Submit the task form and wait for the inbox."""
    with page.expect_navigation():
        page.locator("#task-form").get_by_role("button", name="提交办理").click()


def register_two_cases(engine: Any) -> tuple[str, str]:
    """Two cases straight through the engine, both waiting for triage: an ordinary one registered at 东湖社区's
    window (城东街道) and a green-channel one from 12345 in 青阳镇. Returns (plain, green)."""
    plain, _ = engine.start_case({"name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
                                  "region": {"township": "T01", "village": "T01V01"}, "request": "申请临时救助"},
                                 "window", "village", actor="clerk_v", org="T01V01")
    green, _ = engine.start_case({"name": "李四", "id_number": "320281199003070026", "phone": "13900139000",
                                  "region": {"township": "T02", "village": "T02V01"}, "request": "重病急需医疗救助"},
                                 "hotline", "county", green_channel=True)
    return plain, green
