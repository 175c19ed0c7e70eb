"""The whole linkage flow of Figure 1 through the pages, in a real browser, one demo user per step:
window registration → triage → joint plan → two departments in parallel (受理告知, 处理上报 by the
township for one of them, 办结反馈) → 办结汇总 → the closed case and its history."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.browser import Step, set_field, visit

pytestmark = pytest.mark.browser

APPLICATION = {"kind": "application", "name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
               "township": "T01", "village": "T01V01", "request": "因病致贫，申请医疗救助和临时救助"}
TRIAGE, JOINT_PLAN, ACCEPT, FIELD_REPORT, RESULT, SUMMARY = (
    "一门受理·初步研判", "联动救助方案", "受理告知", "处理上报", "办结反馈", "办结汇总")
FormData = dict[str, str | list[str]]
COMPLETED_BY = [(TRIAGE, "center1"), (JOINT_PLAN, "joint1"), (ACCEPT, "mz1"), (ACCEPT, "yb1"),
                (FIELD_REPORT, "town1"), (RESULT, "mz1"), (RESULT, "yb1"), (SUMMARY, "center1")]


def register_application(page: Page, fields: dict[str, str]) -> str:
    """Fill the window registration form, submit it and return the case number on the receipt."""
    visit(page, "/intake/new")
    for name, value in fields.items():
        set_field(page, name, value)
    page.get_by_role("button", name="提交登记").click()
    case_no = page.locator("#case-no")
    expect(case_no).to_have_text(re.compile(r"^\s*SJ\d{12}\s*$"))
    return case_no.inner_text().strip()


def inbox_rows(page: Page, case_no: str, task_name: str | None = None) -> Locator:
    """The inbox rows of the case (optionally only tasks of one name), freshly loaded."""
    visit(page, "/")
    rows = page.locator("table#tasks tr[data-task-id]").filter(has_text=case_no)
    if task_name is not None:
        rows = rows.filter(has=page.get_by_role("link", name=task_name, exact=True))
    return rows


def fill_task_form(page: Page, data: FormData) -> None:
    """Fill #task-form (lists tick checkboxes) and submit it with 提交办理."""
    form = page.locator("#task-form")
    for name, value in data.items():
        if isinstance(value, list):
            for item in value:
                form.locator(f"input[name='{name}'][value='{item}']").check()
        else:
            set_field(form, name, value)
    with page.expect_navigation():
        form.get_by_role("button", name="提交办理").click()
    expect(page.locator("#task-form"), "the completed task's form is still offered").to_have_count(0)


@dataclass
class Desks:
    """The demo users at their desks: one signed-in page each, opened on first use."""

    page_for: Callable[[str], Page]
    step: Step
    case_no: str = ""
    pages: dict[str, Page] = field(default_factory=dict)

    def page(self, username: str) -> Page:
        if username not in self.pages:
            self.pages[username] = self.page_for(username)
        return self.pages[username]

    def sees(self, username: str, task_name: str, count: int = 1) -> set[str]:
        """Check the user's inbox lists `count` tasks of that name for the case; return their ids."""
        page = self.page(username)
        with self.step(page, f"{username} reads the inbox"):
            rows = inbox_rows(page, self.case_no, task_name)
            expect(rows, f"{username}'s inbox: {task_name} of {self.case_no}").to_have_count(count)
            return {str(rows.nth(i).get_attribute("data-task-id")) for i in range(count)}

    def see_nothing(self, *usernames: str) -> None:
        """Check none of these users' inboxes lists any task of the case."""
        for username in usernames:
            page = self.page(username)
            with self.step(page, f"{username} reads the inbox"):
                expect(inbox_rows(page, self.case_no), f"{username}'s inbox: tasks of {self.case_no}").to_have_count(0)

    def require(self, username: str, condition: bool, message: str) -> None:
        """Assert `condition` about what the user's page showed (screenshot of that page if not)."""
        with self.step(self.page(username), message):
            assert condition, message

    def complete(self, username: str, task_name: str, data: FormData) -> None:
        """Open the user's only task of that name from the inbox and complete it."""
        page = self.page(username)
        with self.step(page, f"{username} completes {task_name}"):
            rows = inbox_rows(page, self.case_no, task_name)
            expect(rows, f"{username}'s inbox: {task_name} of {self.case_no}").to_have_count(1)
            rows.get_by_role("link", name=task_name, exact=True).click()
            expect(page.locator("#task-form")).to_be_visible()
            fill_task_form(page, data)


@pytest.fixture
def desks(page_for: Callable[[str], Page], step: Step) -> Desks:
    """The demo users' desks for one case."""
    return Desks(page_for, step)


def test_linkage_flow_from_window_to_closure(desks: Desks) -> None:
    """A window application passes every step of the flow in the browser and ends 办结 with a full history."""
    clerk = desks.page("clerk_v")
    with desks.step(clerk, "clerk_v registers an application"):
        desks.case_no = register_application(clerk, APPLICATION)

    desks.sees("center1", TRIAGE)
    desks.see_nothing("joint1", "mz1", "yb1", "town1")
    desks.complete("center1", TRIAGE, {"decision": "eligible", "departments": ["minzheng", "yibao"]})

    desks.sees("joint1", JOINT_PLAN)
    desks.see_nothing("mz1", "yb1", "clerk_v")
    desks.complete("joint1", JOINT_PLAN, {"departments": ["minzheng", "yibao"],
                                          "plan": "民政局负责临时救助，医保局负责医疗救助，城东街道入户核查"})

    departments_take_the_case(desks)
    fields_and_results(desks)

    desks.sees("center1", SUMMARY)
    desks.see_nothing("mz1", "yb1", "joint1")
    desks.complete("center1", SUMMARY, {"summary": "民政局批准临时救助1200元，医保局批准医疗救助3500.50元"})
    desks.see_nothing("center1")
    closed_case_shows_its_history(desks)


def departments_take_the_case(desks: Desks) -> None:
    """受理告知 goes to each department alone; 民政 asks the township to act, 医保 needs no field work."""
    minzheng, yibao = desks.sees("mz1", ACCEPT), desks.sees("yb1", ACCEPT)
    desks.require("yb1", minzheng != yibao, f"民政 and 医保 should each get their own {ACCEPT}")
    both = desks.sees("center1", ACCEPT, count=2)
    desks.require("center1", both == minzheng | yibao, "the center oversees both departments' tasks")
    desks.see_nothing("town1", "village1", "joint1")
    desks.complete("mz1", ACCEPT, {"materials": "身份证\n户口簿\n家庭收入证明", "location": "城东街道便民服务中心",
                                   "field_work": "township"})
    desks.require("yb1", desks.sees("yb1", ACCEPT) == yibao, f"yb1 sees its own {ACCEPT} only")
    desks.complete("yb1", ACCEPT, {"materials": "医疗费用发票\n出院小结", "location": "县医保局服务大厅",
                                   "field_work": "none"})


def fields_and_results(desks: Desks) -> None:
    """The township reports to 民政; 医保 goes straight to its result; each department reports its own."""
    desks.sees("town1", FIELD_REPORT)
    desks.see_nothing("village1")
    desks.sees("mz1", RESULT, count=0)  # waits for the township's report
    yibao = desks.sees("yb1", RESULT)
    desks.sees("yb1", FIELD_REPORT, count=0)
    desks.complete("town1", FIELD_REPORT, {"result": "已入户核查，家庭因病支出大，情况属实"})

    minzheng = desks.sees("mz1", RESULT)
    desks.require("mz1", not minzheng & yibao, f"民政 and 医保 should each get their own {RESULT}")
    desks.require("yb1", desks.sees("yb1", RESULT) == yibao, f"yb1 sees its own {RESULT} only")
    desks.complete("mz1", RESULT, {"outcome": "approved", "content": "批准临时救助", "amount": "1200"})
    desks.complete("yb1", RESULT, {"outcome": "approved", "content": "批准医疗救助", "amount": "3500.50"})


def closed_case_shows_its_history(desks: Desks) -> None:
    """The case page says 办结; its history records the registration, who completed each step, and the end."""
    page = desks.page("center1")
    with desks.step(page, "center1 reads the closed case"):
        visit(page, f"/cases/{desks.case_no}")
        expect(page.locator("#case-status")).to_contain_text("办结")
        history = page.locator("ol.history li")
        expect(history.filter(has_text="登记受理").filter(has_text="clerk_v")).to_have_count(1)
        completed = history.filter(has_text="办理完成")
        for name, username in COMPLETED_BY:
            expect(completed.filter(has_text=name).filter(has_text=username),
                   f"history entry: {name} completed by {username}").to_have_count(1)
        expect(completed).to_have_count(len(COMPLETED_BY))
        expect(history.filter(has_text="案件结束")).to_have_count(1)
