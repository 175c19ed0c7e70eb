"""救助公示 (R-6.2.1, GB/T 37973): an approved case of a noticed matter is published for its period with
the masked name, village, matter, household size and amount only; objections become the center's task
in the process notice_objection; the period's end takes it off the portal; withdrawal is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.deadlines.jobs import tick
from engine.errors import Forbidden, InvalidData, NotFound
from engine.models import AuditLog, NoticeObjection, PublicNotice
from engine.settings import PROJECT_ROOT
from tests.support.cases import applicant, open_task
from tests.support.db import tx

OBJECTION_BPMN = PROJECT_ROOT / "processes" / "notice_objection.bpmn"
RESULT = {"outcome": "approved", "content": "纳入低保", "amount": 780, "household_size": 3}


def approved(case_engine: Any, matters: list[str], result: dict[str, Any] | None = None) -> str:
    """A window case for `matters` triaged to 民政局 and approved there; return its number."""
    case_no, _ = case_engine.start_case(applicant(matters=matters, address="城东街道东湖社区3栋201室"), "window",
                                        "village", actor="clerk_v", org="T01V01")
    case_engine.complete_task(open_task(case_engine, case_no, "triage"), "center1",
                              {"decision": "eligible", "departments": ["minzheng"]})
    case_engine.complete_task(open_task(case_engine, case_no, "dept_accept"), "mz1",
                              {"materials": ["身份证"], "location": "民政局窗口", "field_work": "none"})
    case_engine.complete_task(open_task(case_engine, case_no, "dept_result"), "mz1", result or RESULT)
    return case_no


def test_an_approved_noticed_matter_is_published_masked(case_engine: Any, clean_db: str) -> None:
    """低保 approved: one entry, 张*, the village, household 3, 780 元, for 7 days, in the case's history;
    the portal's listing reads no other column."""
    case_no = approved(case_engine, ["dibao"])
    page = case_engine.publicity.listing()
    [entry] = page.items
    assert (entry["masked_name"], entry["matter_name"]) == ("张*", "最低生活保障")
    assert entry["village_name"] == "城东街道东湖社区"
    assert (entry["household_size"], entry["amount"]) == (3, 780.0)
    assert entry["ends_at"] - entry["published_at"] == timedelta(days=7)
    assert set(entry) == {"id", "matter", "matter_name", "masked_name", "township_name", "village_name",
                          "household_size", "amount", "published_at", "ends_at"}
    history = [e["type"] for e in case_engine.queries.show_case(case_no)["history"]]
    assert "notice_published" in history


@pytest.mark.parametrize(("matters", "result"), [
    (["linshi"], RESULT),  # 临时救助 is not noticed
    (["dibao"], {**RESULT, "outcome": "denied"}),  # denied: nothing to notice
])
def test_nothing_is_published_unless_approved_and_noticed(case_engine: Any, matters: list[str],
                                                          result: dict[str, Any]) -> None:
    """Only approved cases of matters the catalog marks as noticed are published."""
    approved(case_engine, matters, result)
    assert case_engine.publicity.listing().total == 0


def test_the_period_ends_with_the_deadline_jobs(case_engine: Any, clean_db: str) -> None:
    """A tick after the 7 days ends the entry: it leaves the listing and cannot be objected to."""
    approved(case_engine, ["dibao"])
    [entry] = case_engine.publicity.listing().items
    assert tick(case_engine, clock.now() + timedelta(days=6))["public_notices_ended"] == 0
    assert tick(case_engine, clock.now() + timedelta(days=8))["public_notices_ended"] == 1
    assert case_engine.publicity.listing().total == 0
    with pytest.raises(NotFound):
        case_engine.publicity.entry(entry["id"])


def test_an_objection_becomes_a_center_task_and_its_finding_a_line_in_the_case(case_engine: Any,
                                                                               clean_db: str) -> None:
    """An objection starts notice_objection: the center's task shows the text and the masked notice;
    its finding is noted in the noticed case's history; the contact is kept, never shown."""
    case_engine.deploy(OBJECTION_BPMN.read_bytes(), OBJECTION_BPMN.name, "test")
    case_no = approved(case_engine, ["dibao"])
    [entry] = case_engine.publicity.listing().items
    with pytest.raises(InvalidData):
        case_engine.publicity.object(entry["id"], "  ")
    review_case = case_engine.publicity.object(entry["id"], "该户有一辆轿车", "13900001111")
    [task] = case_engine.queries.list_tasks(case_no=review_case)
    assert task["form_key"] == "objection_review" and task["candidate_groups"] == ["center"]
    with tx(clean_db) as session:
        stored = session.scalars(select(NoticeObjection)).one()
        assert (stored.contact, stored.review_case_no) == ("13900001111", review_case)
    case_engine.complete_task(task["id"], "center1", {"finding": "dismissed", "note": "车辆为残疾人代步车"})
    history = case_engine.queries.show_case(case_no)["history"]
    assert [e["type"] for e in history if e["type"] in ("notice_objection", "objection_reviewed")] == [
        "notice_objection", "objection_reviewed"]
    assert all("13900001111" not in str(e["data"]) for e in history)


def test_an_objection_is_refused_while_the_review_process_is_not_deployed(case_engine: Any) -> None:
    """Without the review process nothing is stored and the visitor is told where else to go."""
    approved(case_engine, ["dibao"])
    [entry] = case_engine.publicity.listing().items
    with pytest.raises(Exception, match="暂时无法在网上受理异议"):
        case_engine.publicity.object(entry["id"], "有异议")


def test_an_administrator_withdraws_with_a_reason(case_engine: Any, clean_db: str) -> None:
    """Withdrawal needs an administrator and a reason; it leaves the listing, is audited and in the history."""
    case_no = approved(case_engine, ["dibao"])
    [entry] = case_engine.publicity.listing().items
    accounts = case_engine.accounts
    with pytest.raises(Forbidden):
        case_engine.publicity.withdraw(accounts.principal_named("mz1"), entry["id"], "录入错误")
    admin = accounts.principal_named("admin1")
    with pytest.raises(InvalidData):
        case_engine.publicity.withdraw(admin, entry["id"], " ")
    case_engine.publicity.withdraw(admin, entry["id"], "家庭人口录入错误，更正后重新公示")
    assert case_engine.publicity.listing().total == 0
    with tx(clean_db) as session:
        assert session.scalars(select(PublicNotice.status)).one() == "withdrawn"
        assert session.scalars(select(AuditLog.target).where(AuditLog.action == "notice_withdrawn")).one() == case_no
    assert "notice_withdrawn" in [e["type"] for e in case_engine.queries.show_case(case_no)["history"]]


def test_listing_filters_by_township_village_and_month(case_engine: Any) -> None:
    """Filters narrow the listing; a month without entries or a malformed one is handled."""
    approved(case_engine, ["dibao"])
    month = clock.local_text(clock.now(), "%Y-%m")
    assert case_engine.publicity.listing(township="T01").total == 1
    assert case_engine.publicity.listing(township="T02").total == 0
    assert case_engine.publicity.listing(village="T01V01", month=month).total == 1
    assert case_engine.publicity.listing(month="2001-01").total == 0
    assert case_engine.publicity.listing(month="not-a-month").total == 1
