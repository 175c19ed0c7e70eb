"""好差评 closing the loop through the pages (issue 13; R-6.3.6), in a real browser: a closed case is rated
不满意 on the portal (on a phone) → 民政局 gets 差评回访 → 核实 and 整改 → the applicant is told and rates
again (追评) → the statistics page counts one 差评, 100% 回访, 100% on time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import Step, open_task, set_field, submit, visit
from tests.support.cases import RECTIFICATION_BPMN, closed_case
from tests.support.db import engine_for

pytestmark = pytest.mark.browser

CODE = "ABCD2345"


def work(page: Page, case_no: str, name: str, fields: dict[str, str]) -> None:
    """Open the case's open task `name` from the inbox, claim it, fill `fields` and submit."""
    open_task(page, case_no, name)
    for field, value in fields.items():
        set_field(page, field, value)
    submit(page)


def rate(page: Page, case_no: str, level: str, tags: tuple[str, ...] = (), comment: str = "") -> None:
    """Rate on the portal from the lookup form."""
    visit(page, f"/portal/rate?case={case_no}")
    set_field(page, "query_code", CODE)
    page.get_by_role("button", name="下一步").click()
    page.locator("#levels").get_by_label(level, exact=True).check()
    for tag in tags:
        page.locator("#tags").get_by_label(tag, exact=True).check()
    if comment:
        page.locator("textarea[name='comment']").fill(comment)
    page.get_by_role("button", name="提交评价").click()
    expect(page.locator("#rate-done")).to_be_visible()


def test_a_poor_rating_is_called_back_rectified_and_rated_again(page_for: Callable[[str], Page], phone_page: Page,
                                                               step: Step, demo_db: str) -> None:
    engine = engine_for(demo_db)
    engine.deploy(RECTIFICATION_BPMN.read_bytes(), RECTIFICATION_BPMN.name, "test")
    case_no = closed_case(engine, query_code=CODE)
    applicant = phone_page

    with step(applicant, "the applicant rates the closed case 不满意 on a phone, with 办事效率 and a comment"):
        rate(applicant, case_no, "不满意", ("办事效率",), "等了很久才有回音")
        expect(applicant.locator("#rate-done")).to_contain_text("1 个工作日内回访")
        assert applicant.evaluate("document.documentElement.scrollWidth") <= 390
    loop = engine.ratings.of_case(case_no)[0]["rectification_case_no"]

    department = page_for("mz1")
    with step(department, "民政局 calls back, confirms the facts and rectifies"):
        work(department, loop, "差评回访", {"callback_result": "reached", "callback_note": "申请人反映等待时间长"})
        work(department, loop, "差评核实", {"finding": "founded", "facts": "受理告知晚了 2 个工作日"})
        work(department, loop, "差评整改", {"measures": "已安排专人每日跟踪受理告知时限"})

    with step(applicant, "the applicant is told the result and rates once more (追评)"):
        visit(applicant, "/portal/query")
        set_field(applicant, "case_no", case_no)
        set_field(applicant, "query_code", CODE)
        applicant.get_by_role("button", name="查询").click()
        expect(applicant.locator("#notices")).to_contain_text("已安排专人每日跟踪受理告知时限")
        applicant.get_by_role("button", name="评价本次服务（好差评）").click()
        expect(applicant.locator("#follow-up-note")).to_be_visible()
        applicant.locator("#levels").get_by_label("满意", exact=True).check()
        applicant.get_by_role("button", name="提交评价").click()
        expect(applicant.locator("#ratings")).to_contain_text("追评：满意")

    center = page_for("center1")
    with step(center, "the statistics count one 差评, 100% 回访 and 100% 整改按期 for 民政局"):
        visit(center, "/feedback/?by=department")
        row = center.locator("#stats-table tr[data-key='minzheng']")
        expect(row.locator("td.poor")).to_have_text("1")
        expect(row.locator("td.callback-rate")).to_have_text("100.0%")
        expect(row.locator("td.on-time-rate")).to_have_text("100.0%")
        expect(row.locator("td").last).to_have_text("1")  # the 追评
