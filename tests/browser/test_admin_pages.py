"""系统管理 in the browser (R-6.1.4): an administrator adds a township, a village under it and the village's
window with the matters it takes (shown on 办事大厅), creates a clerk there; the clerk signs in with the
temporary password, is kept on 修改密码 until a good password is chosen (a weak one is refused with the
reason), then works; disabled, the clerk's open session ends and signing in is refused; a token issued and
then revoked on the tokens page gets 401 from the API."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import LiveServer, Step, new_context, set_field, visit
from tests.support.cases import start
from tests.support.db import engine_for

pytestmark = pytest.mark.browser
NEW_PASSWORD = "Lantern-Orchid-73-Brook"


def add_organisation(page: Page, code: str, name: str, kind: str, parent: str, **window: str) -> None:
    """机构窗口 → 新建机构, filled and saved; the list shows it."""
    visit(page, "/admin/orgs/")
    page.locator("#new-org").click()
    set_field(page, "code", code)
    page.locator("#f-kind").select_option(kind)
    set_field(page, "name", name)
    page.locator("#f-parent").select_option(parent)
    for field, value in window.items():
        set_field(page, field, value)
    page.locator("#create-org").click()
    expect(page.locator(f"#org-{code}")).to_contain_text(name)


def sign_in_with(page: Page, username: str, password: str) -> None:
    visit(page, "/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="登录").click()


def test_an_administrator_sets_up_a_village_window_and_its_clerk(
        page_for: Callable[[str], Page], browser: Browser, live_server: LiveServer, anonymous_page: Page,
        step: Step) -> None:
    """Township → village with window and matters → clerk; forced password change; disabling ends the session."""
    admin = page_for("admin1")
    with step(admin, "add the township and the village with its window and two matters"):
        add_organisation(admin, "T03", "城南街道", "township", "center")
        add_organisation(admin, "T03V01", "城南街道南湖社区", "village", "T03", address="南湖路 1 号社区服务中心",
                         hours="周一至周五 9:00-17:00", phone="0512-60003301")
        admin.locator("#org-T03V01").get_by_role("link", name="编辑").click()
        matters = admin.locator("#f-matters input[name=matters]")
        names = [matters.nth(i).evaluate("e => e.parentElement.textContent.trim()") for i in range(2)]
        matters.nth(0).check()
        matters.nth(1).check()
        admin.locator("#save").click()
        row = admin.locator("#org-T03V01")
        for name in names:
            expect(row.locator(".window-matters")).to_contain_text(name)
    with step(anonymous_page, "办事大厅 lists the village's window with its matters"):
        visit(anonymous_page, "/portal/hall")
        window = anonymous_page.locator("#org-T03V01")
        expect(window).to_contain_text("南湖路 1 号社区服务中心")
        expect(window.locator(".window-matters")).to_contain_text(names[0])
    with step(admin, "create the village's clerk; the temporary password is shown once"):
        visit(admin, "/admin/users/")
        admin.locator("#new-user").click()
        set_field(admin, "username", "clerk_n")
        set_field(admin, "display_name", "南湖社区窗口 林静")
        admin.locator("#f-org_code").select_option("T03V01")
        admin.locator("#f-roles input[value=clerk]").check()
        admin.locator("#create-user").click()
        temporary = admin.locator("#temporary-password").inner_text().strip()
        assert len(temporary) == 19
    clerk = new_context(browser, live_server.url).new_page()
    with step(clerk, "the clerk signs in and is kept on 修改密码; a weak password is refused"):
        sign_in_with(clerk, "clerk_n", temporary)
        expect(clerk).to_have_url(re.compile(r"/account/password$"))
        expect(clerk.locator("#forced-change")).to_be_visible()
        visit(clerk, "/intake/new")
        expect(clerk).to_have_url(re.compile(r"/account/password$"))
        set_field(clerk, "current", temporary)
        set_field(clerk, "new", "clerk_n-2026-ok")
        set_field(clerk, "repeat", "clerk_n-2026-ok")
        clerk.locator("#change-password").click()
        expect(clerk.locator("#err-new")).to_have_text("密码不能包含用户名")
    with step(clerk, "a good password lets the clerk work at the new window"):
        set_field(clerk, "current", temporary)
        set_field(clerk, "new", NEW_PASSWORD)
        set_field(clerk, "repeat", NEW_PASSWORD)
        clerk.locator("#change-password").click()
        expect(clerk).to_have_url(re.compile(r"^https?://[^/]+/(\?.*)?$"))
        expect(clerk.get_by_role("status")).to_contain_text("密码已修改")
        visit(clerk, "/intake/new")
        expect(clerk.locator("body")).to_contain_text("南湖社区")
    with step(admin, "the users page shows the last sign-in; disabling ends the clerk's session"):
        visit(admin, "/admin/users/?q=clerk_n")
        row = admin.locator("#user-clerk_n")
        expect(row.locator(".last-login")).not_to_contain_text("从未登录")
        row.get_by_role("button", name="停用").click()
        expect(admin.locator("#user-clerk_n .user-status")).to_have_text("已停用")
    with step(clerk, "the disabled clerk is signed out and cannot sign in again"):
        clerk.goto("/")
        expect(clerk).to_have_url(re.compile(r"/login"))
        sign_in_with(clerk, "clerk_n", NEW_PASSWORD)
        expect(clerk.get_by_role("alert")).to_have_text("用户名或密码错误")
    clerk.context.close()


def test_a_token_revoked_on_the_page_gets_401(page_for: Callable[[str], Page], anonymous_page: Page,
                                               step: Step) -> None:
    """Issued on 接口令牌 (shown once) the token reads /api/v1/tasks; revoked there, the next call is 401."""
    admin = page_for("admin1")
    with step(admin, "issue a token for mz1"):
        visit(admin, "/admin/tokens/")
        set_field(admin, "name", "民政局 对账脚本")
        set_field(admin, "owner", "mz1")
        admin.locator("#create-token").click()
        token = admin.locator("#new-token").inner_text().strip()
        assert token.startswith("rlf_")
    api = anonymous_page.request
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status == 200
    with step(admin, "revoke it on the page"):
        visit(admin, "/admin/tokens/")
        row = admin.locator("#tokens tr").filter(has_text="民政局 对账脚本")
        expect(row.locator(".state")).to_have_text("有效")
        row.get_by_role("button", name="吊销").click()
        revoked = admin.locator("#tokens tr").filter(has_text="民政局 对账脚本")
        expect(revoked.locator(".state")).to_contain_text("已吊销")
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status == 401


def test_a_supervisor_selects_every_task_and_assigns_them_at_once(page_for: Callable[[str], Page], demo_db: str,
                                                                  step: Step) -> None:
    """全选 (inbox-bulk.js) ticks every task of the page; 批量指派 assigns them in one request, each reported."""
    engine = engine_for(demo_db)
    cases = [start(engine), start(engine, "T02", None, level="township")]
    center = page_for("center1")
    with step(center, "select all and assign to center1"):
        visit(center, "/")
        center.locator("#select-all").check()
        boxes = center.locator("input[name=task_ids]")
        assert boxes.count() == 2 and all(boxes.nth(i).is_checked() for i in range(2))
        boxes.nth(0).uncheck()
        expect(center.locator("#select-all")).not_to_be_checked()
        center.locator("#select-all").check()
        set_field(center, "assignee", "center1")
        center.locator("#bulk-assign").click()
        expect(center.locator("#bulk-summary")).to_have_text("共 2 项：成功 2 项，未成功 0 项")
    for case_no in cases:
        assert [t["assignee"] for t in engine.queries.list_tasks(case_no=case_no)] == ["center1"]
