"""The public half of the standard through the pages (issue 12; R-6.1.3, R-6.2.1, R-6.2.2), in a real
browser: an administrator adds a material with its review standard → the portal's 服务指南 shows it → an
applicant applies online → the reviewer marks it 需补正 → the progress page shows the one-time list → the
applicant uploads there → the reviewer gets the task back with the new file → approved → the entry appears
in 救助公示 masked → an objection becomes a center task → after the period (the deadline jobs with the clock
moved) it is gone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from engine import clock
from engine.deadlines.jobs import tick
from engine.settings import PROJECT_ROOT
from tests.support.browser import ONLINE_APPLICATION, Step, apply_online, open_task, set_field, submit, visit
from tests.support.db import engine_for

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
OBJECTION_BPMN = PROJECT_ROOT / "processes" / "notice_objection.bpmn"
APPLICATION = {**ONLINE_APPLICATION, "request": "家庭收入低于低保标准，申请最低生活保障", "matters": "dibao"}
MATERIAL, POINTS, PROBLEM = "户口簿", "核对户主页和申请人本人页", "缺少申请人本人页"


def review_row(page: Page, material: str) -> Any:
    """The review table's row of one material."""
    return page.locator(f"#review-table tr[data-material='{material}']")


def test_catalog_to_supplement_to_public_notice(page_for: Callable[[str], Page], anonymous_page: Page,
                                                step: Step, demo_db: str) -> None:
    engine = engine_for(demo_db)
    engine.deploy(OBJECTION_BPMN.read_bytes(), OBJECTION_BPMN.name, "test")
    admin = page_for("admin1")
    with step(admin, "the administrator adds 户口簿 with its review standard to 最低生活保障"):
        visit(admin, "/catalog/dibao/edit")
        row = admin.locator(".material-row").filter(has=admin.locator("input[name$='-name'][value='']")).first
        row.locator("input[name$='-name']").fill(MATERIAL)
        row.locator("select[name$='-form']").select_option("original")
        row.locator("textarea[name$='-points']").fill(POINTS)
        row.locator("textarea[name$='-problems']").fill(f"{PROBLEM}\n复印不清晰")
        admin.locator("#f-reason").fill("补充户口簿的审查标准")
        admin.locator("#save-matter").click()
        expect(admin.locator("#materials")).to_contain_text(POINTS)
        expect(admin.locator("#revisions")).to_contain_text("补充户口簿的审查标准")

    applicant = anonymous_page
    with step(applicant, "the portal's 服务指南 of 最低生活保障 shows the new material and its review points"):
        visit(applicant, "/portal/guide/dibao")
        expect(applicant.locator("main")).to_contain_text(MATERIAL)
        expect(applicant.locator("main")).to_contain_text(POINTS)

    with step(applicant, "an applicant applies online for 低保"):
        case_no, code = apply_online(applicant, APPLICATION)

    center = page_for("center1")
    with step(center, "the reviewer sees the standard beside the material and marks it 需补正"):
        open_task(center, case_no, "一门受理·初步研判")
        expect(review_row(center, MATERIAL)).to_contain_text(POINTS)
        set_field(center, "decision", "eligible")
        center.locator("input[name='departments'][value='minzheng']").check()
        rows = center.locator("#review-table tbody tr")
        for index in range(rows.count()):
            rows.nth(index).locator("input[value='ok']").check()
        review_row(center, MATERIAL).locator("input[value='supplement']").check()
        review_row(center, MATERIAL).locator("input[name$='-problem']").fill(PROBLEM)
        submit(center)

    with step(applicant, "the progress page shows 待补正 and the one-time list; the applicant uploads"):
        visit(applicant, "/portal/query")
        set_field(applicant, "case_no", case_no)
        set_field(applicant, "query_code", code)
        applicant.get_by_role("button", name="查询").click()
        expect(applicant.locator("#case-status")).to_have_text("待补正")
        expect(applicant.locator("#supplement-items")).to_have_text(f"{MATERIAL}：{PROBLEM}")
        expect(applicant.locator("#notices")).to_contain_text("一次性告知")
        applicant.set_input_files("#supplement-form input[type=file]",
                                  files=[{"name": "户口簿本人页.png", "mimeType": "image/png", "buffer": PNG}])
        applicant.get_by_role("button", name="提交补正材料").click()
        expect(applicant.locator("#supplement-done")).to_be_visible()

    with step(center, "the reviewer gets the task back with the new file marked and accepts"):
        open_task(center, case_no, "一门受理·初步研判")
        expect(center.locator("#supplement-received")).to_be_visible()
        expect(center.locator("#review-files li.new")).to_contain_text("户口簿本人页.png")
        expect(review_row(center, MATERIAL).locator("input[value='supplement']")).to_be_checked()
        review_row(center, MATERIAL).locator("input[value='ok']").check()
        set_field(center, "decision", "eligible")
        center.locator("input[name='departments'][value='minzheng']").check()
        submit(center)

    department = page_for("mz1")
    with step(department, "民政局 accepts and approves with the household size"):
        open_task(department, case_no, "受理告知")
        department.locator("textarea[name='materials']").fill("身份证")
        set_field(department, "location", "县民政局窗口")
        set_field(department, "field_work", "none")
        submit(department)
        open_task(department, case_no, "办结反馈")
        set_field(department, "outcome", "approved")
        set_field(department, "content", "纳入最低生活保障")
        set_field(department, "amount", "780")
        set_field(department, "household_size", "3")
        submit(department)

    with step(applicant, "the entry is on 救助公示, masked; an objection is received"):
        visit(applicant, "/portal/notices")
        row = applicant.locator("#notices tbody tr").first
        expect(row).to_contain_text("王*")
        expect(row).to_contain_text("最低生活保障")
        expect(applicant.locator("#notices")).not_to_contain_text(APPLICATION["name"])
        expect(applicant.locator("#notices")).not_to_contain_text(APPLICATION["id_number"])
        row.get_by_role("link", name="提出异议").click()
        applicant.locator("#f-text").fill("该户有一辆营运车辆")
        applicant.get_by_role("button", name="提交异议").click()
        expect(applicant.locator("#objection-received")).to_be_visible()

    with step(center, "the objection is a task of the center"):
        visit(center, "/")
        expect(center.locator("table#tasks")).to_contain_text("公示异议核查")

    with step(applicant, "after the notice period the entry is gone from the portal"):
        tick(engine, clock.now() + timedelta(days=8))
        visit(applicant, "/portal/notices")
        expect(applicant.locator("#no-notices")).to_be_visible()
