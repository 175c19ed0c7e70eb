"""现场评价 in the browser: an administrator registers the window's tablet, the tablet (its own profile, 800 ×
1280, touch) pairs with the token and waits; the clerk registers a consultation in another profile and the
tablet shows it by itself; the visitor taps 非常满意 and a tag and submits, is thanked and the tablet waits
again; the same visit rated from a second, stale screen is refused in Chinese; the one rating is stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from engine.models import Rating
from tests.support.browser import TIMEOUT_MS, LiveServer, Step, set_field, tablet_context, visit
from tests.support.db import tx

pytestmark = pytest.mark.browser


@pytest.fixture
def tablet(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A window's tablet: a profile of its own, signed in as no one."""
    context = tablet_context(browser, live_server.url)
    yield context
    context.close()


def register_device(page: Page) -> str:
    """东湖社区's tablet for clerk_v, registered on /admin/devices; the token shown once."""
    visit(page, "/admin/devices/")
    set_field(page, "name", "东湖社区 1 号窗口评价器")
    page.locator("#f-window-clerk").select_option("T01V01/clerk_v")
    page.get_by_role("button", name="登记", exact=True).click()
    token = page.locator("#device-token").inner_text().strip()
    expect(page.locator("#devices")).to_contain_text("东湖社区 1 号窗口评价器")
    return token


def register_consultation(page: Page) -> None:
    """The clerk registers a visitor's consultation at the window (咨询登记)."""
    visit(page, "/intake/new?kind=consultation")
    set_field(page, "name", "王小五")
    set_field(page, "question", "临时救助需要什么材料")
    page.get_by_role("button", name="提交登记").click()
    expect(page.get_by_role("status")).to_contain_text("咨询登记已保存")


def choose(screen: Page, level: str, tag: str | None = None) -> None:
    """Tap a level (and a tag): each toggles its large button."""
    screen.get_by_text(level, exact=True).tap()
    expect(screen.get_by_role("radio", name=level, exact=True)).to_be_checked()
    if tag:
        screen.get_by_text(tag, exact=True).tap()
        expect(screen.get_by_role("checkbox", name=tag, exact=True)).to_be_checked()


def test_a_visit_registered_at_the_window_is_rated_on_its_tablet(
        page_for: Callable[[str], Page], tablet: BrowserContext, live_server: LiveServer, demo_db: str,
        step: Step) -> None:
    admin = page_for("admin1")
    with step(admin, "register the window's tablet"):
        token = register_device(admin)
    screen = tablet.new_page()
    with step(screen, "pair the tablet and wait"):
        visit(screen, "/tablet/")
        screen.locator("#f-token").fill(token)
        screen.get_by_role("button", name="配对").tap()
        expect(screen.locator("#window-name")).to_have_text("城东街道东湖社区")
        expect(screen.locator("#clerk-name")).to_contain_text("东湖社区窗口 王芳")
        expect(screen.locator("#waiting")).to_contain_text("暂无待评价的服务")
    clerk = page_for("clerk_v")
    with step(clerk, "the clerk registers a consultation"):
        register_consultation(clerk)
    with step(screen, "the tablet shows it by itself, with large targets"):
        # the poll (every 4 s) reloads the screen
        expect(screen.locator("#rating-form")).to_be_visible(timeout=TIMEOUT_MS)
        expect(screen.locator("#visit")).to_contain_text("王**")
        for box in (screen.get_by_text(name, exact=True).bounding_box() for name in ("非常满意", "服务态度")):
            assert box is not None and box["height"] >= 80
        assert screen.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    stale = tablet.new_page()
    with step(stale, "a second screen of the same tablet, half filled in, keeps the visit"):
        visit(stale, "/tablet/")
        choose(stale, "满意")  # touched: its poll no longer reloads it
    with step(screen, "the visitor taps 非常满意 and 服务态度 and submits; thanks, then waiting again"):
        choose(screen, "非常满意", "服务态度")
        screen.get_by_role("button", name="提交评价").tap()
        expect(screen.locator("#thanks")).to_contain_text("谢谢您的评价")
        expect(screen.locator("#waiting")).to_be_visible(timeout=TIMEOUT_MS)  # back after 6 s
    with step(stale, "the same visit again is refused in Chinese"):
        stale.get_by_role("button", name="提交评价").tap()
        expect(stale.get_by_role("alert")).to_contain_text("本次服务已评价，每次只能评价一次")
        expect(stale.locator("#waiting")).to_be_visible()
    with tx(demo_db) as session:
        [rating] = session.scalars(select(Rating)).all()
    assert (rating.level, rating.tags, rating.channel, rating.clerk, rating.org_code) == \
        ("very_satisfied", ["attitude"], "window", "clerk_v", "T01V01")
    assert rating.rated_by.startswith("device:") and rating.consultation_id is not None
