"""Smaller page checks in the browser: sign-in errors, the inbox filter form, the public portal."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import LiveServer, Step, apply_online, register_two_cases, set_field, visit

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class TwoCases:
    """An ordinary case in 城东街道 and a green-channel case in 青阳镇, both waiting for triage."""

    plain: str
    green: str


@pytest.fixture
def two_cases(live_server: LiveServer) -> TwoCases:
    """Register two cases straight through the engine (the inbox is what is under test)."""
    engine = live_server.app.extensions["relief_engine"]
    return TwoCases(*register_two_cases(engine))


def test_wrong_password_shows_an_error_and_keeps_the_user_out(anonymous_page: Page, step: Step) -> None:
    """A wrong password shows the Chinese error on the form; the inbox still sends the visitor to sign in."""
    page = anonymous_page
    with step(page, "wrong password"):
        visit(page, "/login")
        page.locator("input[name=username]").fill("center1")
        page.locator("input[name=password]").fill("wrong-password1")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
        expect(page.locator("input[name=username]")).to_have_value("center1")
        visit(page, "/")
        expect(page).to_have_url(re.compile(r"/login"))
        expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()


def test_sign_out_posts_the_form_with_its_csrf_token(page_for: Callable[[str], Page], step: Step) -> None:
    """The 退出 button (a CSRF-protected POST) signs the user out; the inbox then needs a new sign-in."""
    page = page_for("mz1")
    with step(page, "sign out"):
        page.get_by_role("button", name="退出").click()
        expect(page.get_by_role("status")).to_contain_text("您已安全退出")
        visit(page, "/")
        expect(page).to_have_url(re.compile(r"/login"))


def test_inbox_filter_form_narrows_the_list(page_for: Callable[[str], Page], step: Step,
                                            two_cases: TwoCases) -> None:
    """Case number, green channel and township filters narrow the task list; 清除 shows everything again."""
    page = page_for("center1")
    rows = page.locator("table#tasks tr[data-task-id]")
    filters = page.get_by_role("form", name="筛选")
    with step(page, "inbox filters"):
        expect(rows).to_have_count(2)
        filters.locator("input[name=case_no]").fill(two_cases.plain)
        filters.get_by_role("button", name="筛选").click()
        expect(page).to_have_url(re.compile(f"case_no={two_cases.plain}"))
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(two_cases.plain)

        page.get_by_role("link", name="清除").click()
        expect(rows).to_have_count(2)
        filters.get_by_label("仅绿色通道").check()
        filters.get_by_role("button", name="筛选").click()
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(two_cases.green)

        page.get_by_role("link", name="清除").click()
        set_field(filters, "township", "T01")
        filters.get_by_role("button", name="筛选").click()
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(two_cases.plain)


def test_saved_inbox_filter_can_be_reapplied(page_for: Callable[[str], Page], step: Step,
                                             two_cases: TwoCases) -> None:
    """A filter saved under a name (a CSRF-protected POST) appears as a link that applies it again."""
    page = page_for("center1")
    rows = page.locator("table#tasks tr[data-task-id]")
    with step(page, "saved filter"):
        page.get_by_role("form", name="筛选").get_by_label("仅绿色通道").check()
        page.get_by_role("form", name="筛选").get_by_role("button", name="筛选").click()
        page.locator("input[name=filter_name]").fill("绿色通道")
        page.get_by_role("button", name="保存", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("已保存筛选条件")
        page.get_by_role("link", name="清除").click()
        expect(rows).to_have_count(2)
        page.get_by_role("link", name="绿色通道", exact=True).click()
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(two_cases.green)


def test_portal_application_then_progress_query(anonymous_page: Page, step: Step) -> None:
    """An applicant applies online, gets a case number and query code, and looks the case up with them."""
    page = anonymous_page
    with step(page, "portal application"):
        case_no, query_code = apply_online(page)
        assert query_code, "the receipt should show the query code"
    with step(page, "portal query"):
        visit(page, "/portal/query")
        set_field(page, "case_no", case_no)
        set_field(page, "query_code", query_code)
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#case-status")).to_contain_text("受理")
        expect(page.locator("body")).not_to_contain_text("34052419800101001X")


def test_portal_query_with_a_wrong_code_reveals_nothing(anonymous_page: Page, step: Step,
                                                        two_cases: TwoCases) -> None:
    """A wrong query code gets a plain refusal, not the case."""
    page = anonymous_page
    with step(page, "portal query, wrong code"):
        visit(page, "/portal/query")
        set_field(page, "case_no", two_cases.plain)
        set_field(page, "query_code", "000000")
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#case-status")).to_have_count(0)
        expect(page.get_by_role("alert")).to_be_visible()
