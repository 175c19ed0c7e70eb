"""投诉反馈 on a phone (390 × 844): from the portal's home to a filed complaint and its reply, a refusal on the way
keeping what was typed, nothing scrolling sideways."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from engine.cases.runtime import CaseEngine
from engine.settings import PROJECT_ROOT
from tests.support.browser import PHONE_VIEWPORT, Step, set_field, visit

pytestmark = pytest.mark.browser
COMPLAINT_BPMN = PROJECT_ROOT / "processes" / "complaint.bpmn"
TEXT = "东湖社区窗口人员说材料不全，却没有一次说清缺哪些，让我跑了三趟"


def fits(page: Page) -> None:
    """Nothing scrolls sideways at the phone's width."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE_VIEWPORT["width"], f"scrollWidth {width}"


def test_a_complaint_filed_and_followed_on_a_phone(phone_page: Page, step: Step) -> None:
    """The home tile opens the form; a named complaint without a phone is refused with the text kept; filed
    anonymously it gets a number and code; the lookup shows 办理中, then the village's reply."""
    engine = CaseEngine.for_url(os.environ["RELIEF_DATABASE_URL"])
    engine.deploy(COMPLAINT_BPMN.read_bytes(), COMPLAINT_BPMN.name, "test")
    page = phone_page
    with step(page, "the home tile"):
        visit(page, "/portal/")
        page.locator("#complaints").click()
        expect(page.get_by_role("heading", name="投诉反馈")).to_be_visible()
    with step(page, "refused: a name but no phone"):
        set_field(page, "complaint_type", "not_informed")
        set_field(page, "about_org", "T01V01")
        set_field(page, "text", TEXT)
        set_field(page, "name", "王五")
        page.get_by_role("button", name="提交投诉").click()
        expect(page.locator("#err-phone")).to_contain_text("或选择匿名投诉")
        expect(page.locator("textarea[name=text]")).to_have_value(TEXT)
        expect(page.locator("select[name=about_org]")).to_have_value("T01V01")
        fits(page)
    with step(page, "filed anonymously"):
        page.get_by_role("checkbox", name=re.compile("^匿名投诉")).check()
        page.get_by_role("button", name="提交投诉").click()
        expect(page.locator("#complaint-no")).to_have_text(re.compile(r"^\s*TS\d{12}\s*$"))
        complaint_no = page.locator("#complaint-no").inner_text().strip()
        code = page.locator("#query-code").inner_text().strip()
        fits(page)
    with step(page, "looked up: being handled"):
        page.get_by_role("link", name="查询办理进度").click()
        set_field(page, "complaint_no", complaint_no)
        set_field(page, "query_code", code)
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#complaint-status")).to_have_text("办理中")
        expect(page.locator("#complaint-progress")).to_contain_text("东湖社区")
    [task] = engine.queries.list_tasks(case_no=complaint_no)
    engine.complete_task(task["id"], "clerk_v", {"finding": "founded", "handling": "批评教育",
                                                  "reply": "经核实属实，已要求窗口一次性告知所需材料"})
    with step(page, "looked up again: the reply"):
        set_field(page, "complaint_no", complaint_no)
        set_field(page, "query_code", code)
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#complaint-status")).to_have_text("已办结")
        expect(page.locator("#complaint-reply")).to_have_text("经核实属实，已要求窗口一次性告知所需材料")
        fits(page)
