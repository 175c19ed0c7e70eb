"""The dashboard (数据汇聚展示, R-6.4.1): its fact rows follow a case through its life in the same transaction,
a rebuild gives the same rows, and every user's figures are the case list's counts for the same filter."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite

from engine.access import scoping
from engine.dashboard import facts
from engine.errors import Forbidden
from engine.tables import APPLICATION, CASE_FACT, CASE_FACT_MATTER, DEPT_FACT
from tests.support.cases import closed_case, dispatch, open_task, start
from tests.support.cli import relief
from tests.support.db import principal, tx


def _rows(url: str, table: Any, case_no: str | None = None) -> list[dict[str, Any]]:
    query = select(table).order_by(*table.primary_key.columns)
    if case_no:
        query = query.where(table.c.case_no == case_no)
    with tx(url) as session:
        return [dict(r._mapping) for r in session.execute(query)]


def _fact(url: str, case_no: str) -> dict[str, Any]:
    [row] = _rows(url, CASE_FACT, case_no)
    return row


def _groups(url: str, case_no: str) -> dict[str, dict[str, Any]]:
    return {r["group_code"]: r for r in _rows(url, DEPT_FACT, case_no)}


def test_facts_follow_a_case_from_start_to_close_and_rating(case_engine: Any) -> None:
    """Started, dispatched, closed and rated: the case's rows say so after each step."""
    url = case_engine.settings.database_url
    case_no = start(case_engine, matters=["linshi", "yiliao"])
    row = _fact(url, case_no)
    assert (row["status"], row["township"], row["village"], row["channel"]) == ("open", "T01", "T01V01", "window")
    assert row["ended_at"] is None and row["handling_seconds"] is None and row["amount"] == 0
    assert {r["matter"] for r in _rows(url, CASE_FACT_MATTER, case_no)} == {"linshi", "yiliao"}
    assert "minzheng" not in _groups(url, case_no)
    dispatch(case_engine, case_no, "minzheng")
    received = _groups(url, case_no)["minzheng"]
    assert received["done"] is False and received["open_due_at"] is not None
    assert _groups(url, case_no)["center"]["done"] is True
    for form, data in (("dept_accept", {"materials": ["身份证"], "location": "窗口", "field_work": "none"}),
                       ("dept_result", {"outcome": "approved", "content": "发放", "amount": 800})):
        case_engine.complete_task(open_task(case_engine, case_no, form), "mz1", data)
    done = _groups(url, case_no)["minzheng"]
    assert done["done"] is True and done["amount"] == 800 and done["handling_seconds"] is not None
    case_engine.complete_task(open_task(case_engine, case_no, "summary"), "center1", {"summary": "办结"})
    row = _fact(url, case_no)
    assert row["status"] == "closed_completed" and row["ended_at"] is not None and row["amount"] == 800
    assert row["handling_hours"] == 0 and row["rating"] is None
    matters = {r["matter"]: r["amount"] for r in _rows(url, CASE_FACT_MATTER, case_no)}
    assert sum(matters.values()) == 800  # the department's amount counted once, on its first matter
    case_engine.ratings.rate_case(case_no, "portal", "satisfied")
    assert _fact(url, case_no)["rating"] == "satisfied"


def test_declined_and_terminated_cases(case_engine: Any) -> None:
    """不予受理 and 终止 end the case on the dashboard too, with their handling time."""
    url = case_engine.settings.database_url
    declined = start(case_engine)
    case_engine.complete_task(open_task(case_engine, declined, "triage"), "center1",
                              {"decision": "ineligible", "reason": "收入高于标准"})
    assert _fact(url, declined)["status"] == "closed_declined"
    assert _fact(url, declined)["handling_seconds"] is not None
    stopped = start(case_engine)
    dispatch(case_engine, stopped, "minzheng")
    case_engine.admin.terminate_case(stopped, "admin1", "申请人撤回申请")
    row, group = _fact(url, stopped), _groups(url, stopped)["minzheng"]
    assert row["status"] == "terminated" and row["ended_at"] is not None
    assert group["done"] is False and group["open_due_at"] is None  # cancelled, never done


def test_rebuild_gives_the_rows_the_steps_wrote(case_engine: Any) -> None:
    """`relief dashboard rebuild` computes exactly the rows the steps kept."""
    url = case_engine.settings.database_url
    closed_case(case_engine, departments=("minzheng", "yibao"), matters=("linshi", "yiliao"))
    start(case_engine, township="T02", village=None, level="township")
    before = {t.name: _rows(url, t) for t in (CASE_FACT, CASE_FACT_MATTER, DEPT_FACT)}
    assert case_engine.dashboard.rebuild() == 2
    assert {t.name: _rows(url, t) for t in (CASE_FACT, CASE_FACT_MATTER, DEPT_FACT)} == before
    with tx(url) as session:
        assert facts.fact_count(session.connection()) == 2


def test_a_refresh_inside_a_failed_transaction_leaves_nothing(case_engine: Any) -> None:
    """The rows are written in the caller's transaction: rolled back with it."""
    url = case_engine.settings.database_url
    case_no = start(case_engine)
    with pytest.raises(RuntimeError), tx(url) as session:
        session.execute(APPLICATION.update().where(APPLICATION.c.case_no == case_no).values(township="T02"))
        facts.refresh(session.connection(), [case_no])
        raise RuntimeError("abandon")
    assert _fact(url, case_no)["township"] == "T01"


USERS = ("center1", "analyst1", "mz1", "yb1", "town1", "village1", "clerk_v")
FILTERS: list[dict[str, str]] = [{}, {"township": "T01"}, {"department": "minzheng"}, {"matter": "yiliao"},
                                 {"channel": "window"}, {"township": "T02", "matter": "dibao"}]


def test_every_users_figures_are_the_case_lists_counts(case_engine: Any) -> None:
    """The drift test: for each user and filter the dashboard's total equals the case list's."""
    closed_case(case_engine, departments=("minzheng",), matters=("linshi",))
    closed_case(case_engine, departments=("minzheng", "yibao"), matters=("linshi", "yiliao"))
    start(case_engine, township="T02", village=None, level="township", matters=["dibao"])
    start(case_engine, matters=["yiliao"], village="T01V02")
    dispatch(case_engine, start(case_engine, township="T02", village="T02V01", matters=["yiliao"]), "yibao")
    for user in USERS:
        who = principal(case_engine, user)
        for args in FILTERS:
            shown = case_engine.dashboard.chart(who, "summary", args)["table"].rows[0]["cells"][1]
            listed = case_engine.files.search(who, args)["cases"].total
            assert shown == listed, (user, args, shown, listed)
    assert case_engine.files.search(principal(case_engine, "yb1"), {})["cases"].total == 2


def test_dashboard_needs_its_permission(case_engine: Any) -> None:
    """The 12345 account and designers have no dashboard; the fact scope gives them nothing."""
    who = principal(case_engine, "hotline12345")
    with pytest.raises(Forbidden):
        case_engine.dashboard.chart(who, "summary", {})
    assert not scoping.may(principal(case_engine, "designer1"), "dashboard")
    assert scoping.may(principal(case_engine, "mz1"), "dashboard")


def test_each_chart_answers_under_a_filter(case_engine: Any) -> None:
    """Every chart gives a table whose rows narrow the filter (the click-through)."""
    case_engine.ratings.rate_case(closed_case(case_engine, departments=("minzheng",), matters=("linshi",)),
                                  "portal", "satisfied")
    who = principal(case_engine, "center1")
    for name in case_engine.dashboard.choices(who)["charts"]:
        found = case_engine.dashboard.chart(who, name, {"township": "T01", "by": "month"})
        table = found["table"]
        assert table.rows, name
        assert all(len(r["cells"]) == len(table.columns) for r in table.rows), name
    departments = case_engine.dashboard.chart(who, "departments", {})["table"]
    [row] = [r for r in departments.rows if r["narrow"] == {"department": "minzheng"}]
    assert row["cells"][1:4] == [1, 1, 0]
    errors = case_engine.dashboard.chart(who, "summary", {"q": "张", "overdue": "1"})["errors"]
    assert set(errors) == {"q", "overdue"}


def test_relief_dashboard_rebuild_restores_lost_rows(case_engine: Any) -> None:
    """`relief dashboard rebuild` writes the rows back when they were lost (a repair)."""
    url = case_engine.settings.database_url
    case_no = closed_case(case_engine)
    before = _rows(url, DEPT_FACT, case_no)
    with tx(url) as session:
        for table in (CASE_FACT, CASE_FACT_MATTER, DEPT_FACT):
            session.execute(table.delete())
    assert relief("dashboard", "rebuild", database_url=url) == {"cases": 1}
    assert _rows(url, DEPT_FACT, case_no) == before and _fact(url, case_no)["status"] == "closed_completed"


@pytest.mark.parametrize(("user", "few"), [("village1", True), ("clerk_v", True), ("town1", False), ("mz1", False)])
def test_a_village_scope_is_read_first_on_postgresql(case_engine: Any, user: str, few: bool) -> None:
    """A village's few thousand cases are one array PostgreSQL looks up by index (its estimate of the union
    was five times the rows, and it scanned a channel's 200,000 fact rows to join them); SQLite's IN stays."""
    scope = scoping.fact_filter(principal(case_engine, user))
    query = select(CASE_FACT.c.case_no).where(and_(scope, CASE_FACT.c.channel == "window"))
    on_postgresql = str(query.compile(dialect=postgresql.dialect()))
    assert ("= ANY(ARRAY(SELECT" in on_postgresql) is few, on_postgresql
    on_sqlite = str(query.compile(dialect=sqlite.dialect()))
    assert "ANY(ARRAY" not in on_sqlite and ") = 1" not in on_sqlite, on_sqlite  # `= 1` would scan every row
