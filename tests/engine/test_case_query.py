"""The case filter (R-6.4.2): each filter narrows the case list to what it names, bad values are refused in
Chinese and dropped, and the filter round-trips through link arguments."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from engine import clock
from engine.cases.case_query import CaseFilter, filter_args, parse_filter
from engine.tables import APPLICATION, TASK
from tests.support.cases import closed_case, start
from tests.support.db import principal, tx


def _numbers(engine: Any, user: str = "center1", **args: Any) -> set[str]:
    found = engine.files.search(principal(engine, user), {k: str(v) for k, v in args.items()}, 1, 100)
    assert not found["errors"], found["errors"]
    return {c["case_no"] for c in found["cases"].items}


@pytest.fixture
def cases(case_engine: Any) -> dict[str, str]:
    """Four cases that differ in one filter each from the first."""
    made = {
        "plain": start(case_engine, matters=["linshi"]),
        "green": start(case_engine, green_channel=True, matters=["yiliao"]),
        "t02": start(case_engine, township="T02", village=None, level="township", matters=["dibao"]),
        "closed": closed_case(case_engine, departments=("minzheng",), matters=("linshi",)),
    }
    return made


def test_each_filter_names_its_cases(case_engine: Any, cases: dict[str, str]) -> None:
    everything = _numbers(case_engine)
    assert set(cases.values()) <= everything
    assert _numbers(case_engine, green=1) == {cases["green"]}
    assert _numbers(case_engine, township="T02") == {cases["t02"]}
    assert cases["t02"] not in _numbers(case_engine, township="T01")
    assert _numbers(case_engine, matter="yiliao") == {cases["green"]}
    assert _numbers(case_engine, assistance_type="dibao") == {cases["t02"]}
    assert _numbers(case_engine, status="completed") == {cases["closed"]}
    assert cases["closed"] not in _numbers(case_engine, status="running")
    assert _numbers(case_engine, department="minzheng") == {cases["closed"]}
    assert _numbers(case_engine, level="township") == {cases["t02"]}
    assert _numbers(case_engine, channel="online") == set()
    assert _numbers(case_engine, q=cases["green"]) == {cases["green"]}


def test_period_is_local_dates_both_ends_included(case_engine: Any, cases: dict[str, str]) -> None:
    # Registered at 23:30 local time on 1 March: that is 15:30 UTC, still 1 March for the filter.
    late = datetime(2026, 3, 1, 23, 30, tzinfo=clock.LOCAL_TZ)
    with tx(case_engine.settings.database_url) as session:
        session.execute(update(APPLICATION).where(APPLICATION.c.case_no == cases["plain"]).values(created_at=late))
    assert _numbers(case_engine, date_from="2026-03-01", date_to="2026-03-01") == {cases["plain"]}
    assert _numbers(case_engine, date_from="2026-03-02", date_to="2026-03-31") == set()
    assert cases["plain"] not in _numbers(case_engine, date_from=date.today().isoformat())


def test_overdue_means_a_task_went_overdue(case_engine: Any, cases: dict[str, str]) -> None:
    assert _numbers(case_engine, overdue=1) == set()
    with tx(case_engine.settings.database_url) as session:
        session.execute(update(TASK).where(TASK.c.case_no == cases["plain"])
                        .values(due_at=clock.now() - timedelta(hours=1)))
        # completed after its due time, never flagged: still 超期办理
        session.execute(update(TASK).where(TASK.c.case_no == cases["closed"], TASK.c.form_key == "triage")
                        .values(due_at=datetime(2020, 1, 1, tzinfo=clock.LOCAL_TZ)))
    assert _numbers(case_engine, overdue=1) == {cases["plain"], cases["closed"]}


def test_satisfaction_is_the_cases_rating(case_engine: Any, cases: dict[str, str]) -> None:
    case_engine.ratings.rate_case(cases["closed"], "portal", "very_satisfied")
    assert _numbers(case_engine, satisfaction="very_satisfied") == {cases["closed"]}
    assert _numbers(case_engine, satisfaction="dissatisfied") == set()


def test_scope_still_applies(case_engine: Any, cases: dict[str, str]) -> None:
    # 民政局 sees the cases it handled, whatever the filter asks for.
    assert _numbers(case_engine, "mz1") == {cases["closed"]}
    assert _numbers(case_engine, "mz1", township="T02") == set()


def test_bad_values_are_refused_in_chinese_and_dropped(case_engine: Any, cases: dict[str, str]) -> None:
    args = {"township": "NOPE", "date_from": "2026-13-01", "matter": "x", "overdue": "maybe", "green": "1",
            "date_to": "2026-01-01"}
    found = case_engine.files.search(principal(case_engine, "center1"), args, 1, 100)
    assert set(found["errors"]) == {"township", "date_from", "matter", "overdue"}
    assert "乡镇(街道)“NOPE”不存在" in found["errors"]["township"]
    assert "YYYY-MM-DD" in found["errors"]["date_from"][0]
    # the good fields still apply
    assert found["filter"] == CaseFilter(green=True, date_to=date(2026, 1, 1))
    with tx(case_engine.settings.database_url) as session:
        _f, errors = parse_filter(session.connection(), case_engine.settings.reference,
                                  {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert errors == {"date_to": ["登记日期（止）不能早于登记日期（起）"]}


def test_the_filter_round_trips_through_link_arguments(case_engine: Any) -> None:
    wanted = CaseFilter(date_from=date(2026, 1, 1), date_to=date(2026, 6, 30), township="T01", matter="linshi",
                        channel="window", department="minzheng", status="running", overdue=True, green=True,
                        satisfaction="satisfied", q="医疗")
    args = filter_args(wanted)
    assert args["overdue"] == "1" and args["date_from"] == "2026-01-01" and "village" not in args
    with tx(case_engine.settings.database_url) as session:
        parsed, errors = parse_filter(session.connection(), case_engine.settings.reference, args)
    assert errors == {} and parsed == wanted
    assert filter_args(CaseFilter()) == {} and CaseFilter().empty
