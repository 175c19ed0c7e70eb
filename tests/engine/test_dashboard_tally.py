"""The dashboard's tally (`fact_tally`, 数据汇聚展示 R-6.4.1): every step keeps it as a delta in its own
transaction, a rebuild from the fact rows gives the same rows, and every chart is the same whether it reads
the tally or the fact rows — for the county, a township's field staff and a department, whose scopes reach a
few cases beyond their slice."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import or_, select

from engine.access import scoping
from engine.dashboard import charts, facts
from engine.dashboard.service import CHART_NAMES
from engine.tables import FACT_TALLY, TASK
from tests.support.cases import accept, closed_case, dispatch, open_task, start
from tests.support.db import principal, tx

USERS = ("center1", "analyst1", "mz1", "yb1", "town1", "village1", "clerk_v")
FILTERS: list[dict[str, str]] = [
    {}, {"township": "T01"}, {"township": "T02"}, {"department": "minzheng"}, {"department": "yibao"},
    {"matter": "yiliao"}, {"channel": "window"}, {"channel": "online"}, {"date_from": "2020-01-01"},
    {"date_to": "2020-01-01"}, {"township": "T02", "matter": "dibao"}, {"level": "village"},
    {"status": "completed"}, {"status": "running"}, {"village": "T01V02"}, {"green": "1"},
    {"satisfaction": "satisfied"}, {"assistance_type": "yiliao"}, {"assistance_type": "yiliao", "matter": "linshi"},
    {"status": "completed", "level": "village"}, {"status": "running", "level": "township"},
    {"matter": "yiliao", "status": "running"}, {"assistance_type": "yiliao", "status": "completed"},
    {"channel": "window", "level": "township"}, {"channel": "online", "level": "village"},
    {"department": "minzheng", "status": "completed"}, {"department": "yibao", "status": "running"},
    {"department": "yibao", "channel": "window"}, {"matter": "yiliao", "channel": "window"},
    {"assistance_type": "yiliao", "channel": "online"}, {"township": "T01", "status": "running"},
    {"department": "yibao", "matter": "yiliao"}, {"department": "minzheng", "assistance_type": "linshi"},
    {"department": "yibao", "matter": "yiliao", "channel": "window"}, {"township": "T01", "matter": "yiliao"},
    {"township": "T02", "assistance_type": "yiliao"}, {"township": "T01", "channel": "window"},
    {"township": "T02", "channel": "online"}]


def _tally(url: str) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """The tally's rows that hold anything (a delta may leave a row at zero)."""
    measures = [FACT_TALLY.c[m] for m in facts.MEASURES]
    with tx(url) as session:
        return {tuple(r[:len(facts.KEY)]): tuple(r[len(facts.KEY):]) for r in session.execute(
            select(*(FACT_TALLY.c[k] for k in facts.KEY), *measures).where(or_(*(m != 0 for m in measures))))}


@pytest.fixture
def county(case_engine: Any) -> Any:
    """Cases in every state, two townships, several matters and departments; one case registered at T01's
    window for T02 (town1's scope beyond its township) and one yibao task assigned to mz1 (beyond minzheng's)."""
    rated = closed_case(case_engine, departments=("minzheng",), matters=("linshi",))
    case_engine.ratings.rate_case(rated, "portal", "satisfied")
    closed_case(case_engine, departments=("minzheng", "yibao"), matters=("linshi", "yiliao"))
    start(case_engine, township="T02", village=None, level="township", matters=["dibao"])
    start(case_engine, matters=["yiliao"], village="T01V02", green_channel=True)
    dispatch(case_engine, start(case_engine, township="T02", village="T02V01", matters=["yiliao"]), "yibao")
    declined = start(case_engine, township="T02", village="T02V02")
    case_engine.complete_task(open_task(case_engine, declined, "triage"), "center1",
                              {"decision": "ineligible", "reason": "收入高于标准"})
    stopped = start(case_engine)
    dispatch(case_engine, stopped, "minzheng")
    case_engine.admin.terminate_case(stopped, "admin1", "申请人撤回申请")
    start(case_engine, township="T02", village="T02V02", level="township", actor="town1", org="T01")
    assigned = start(case_engine, township="T02", village="T02V01", matters=["yiliao"])
    dispatch(case_engine, assigned, "yibao")
    with tx(case_engine.settings.database_url) as session:
        session.execute(TASK.update().where(TASK.c.id == open_task(case_engine, assigned, "dept_accept", "yibao"))
                        .values(assignee="mz1"))
    return case_engine


def test_the_steps_keep_the_tally_a_rebuild_computes(county: Any) -> None:
    """After starts, dispatches, results, a rating, a decline and a termination the tally is what a rebuild
    from the fact rows gives; the county slice counts every case once."""
    url = county.settings.database_url
    kept = _tally(url)
    county.dashboard.rebuild()
    assert _tally(url) == kept
    statuses = {key[4]: values[0] for key, values in kept.items() if key[:2] == ("", "") and key[3] == "status"}
    assert sum(statuses.values()) == 9 and statuses["closed_completed"] == 2 and statuses["terminated"] == 1
    minzheng = [values for key, values in kept.items() if key[:2] == ("department", "minzheng") and key[3] == "dept"]
    assert {key[4] for key in kept if key[:2] == ("department", "minzheng") and key[3] == "dept"} == {"minzheng"}
    assert sum(v[0] for v in minzheng) == 3 and sum(v[3] for v in minzheng) == 2  # received 3, done 2
    assert not [key for key in kept if key[3] == "dept" and key[4] in ("center", "T01V01")]  # not departments


def test_every_chart_reads_the_same_from_the_tally_and_the_fact_rows(county: Any) -> None:
    """Each chart, user and filter: the table from the tally equals the one from the fact rows."""
    served = 0
    for user in USERS:
        who = principal(county, user)
        for args in FILTERS:
            for name in CHART_NAMES:
                shown = county.dashboard.chart(who, name, {**args, "by": "week"})
                counted = county.dashboard.chart(who, name, {**args, "by": "week"}, per_case=True)
                assert shown["table"] == counted["table"], (user, args, name)
            served += _source(county, user, args).tally is not None
    assert served >= 77  # most of these requests were read from the tally (7 users × 34 filters)


def test_scopes_reach_beyond_their_slice(county: Any) -> None:
    """town1 sees the case its window registered for T02, mz1 the yibao case whose task is assigned to it;
    the dashboard (tally and rest) counts them as the case list does."""
    for user in ("town1", "mz1", "yb1", "village1"):
        who = principal(county, user)
        for args in ({}, {"date_from": "2020-01-01"}):
            shown = county.dashboard.chart(who, "summary", args)["table"].rows[0]["cells"][1]
            assert shown == county.files.search(who, args)["cases"].total, (user, args)
    town1 = county.dashboard.chart(principal(county, "town1"), "regions", {})["table"]
    assert {row["narrow"]["township"] for row in town1.rows} == {"T01", "T02"}
    mz1 = county.dashboard.chart(principal(county, "mz1"), "departments", {})["table"]
    assert [row["narrow"] for row in mz1.rows] == [{"department": "minzheng"}]  # a department's own figures


def _source(engine: Any, user: str, args: dict[str, str]) -> Any:
    who = principal(engine, user)
    with tx(engine.settings.database_url) as session:
        from engine.cases.case_query import parse_filter
        conn = session.connection()
        case_filter, _errors = parse_filter(conn, engine.settings.reference, args)
        return charts.source(conn, case_filter, engine.settings.reference, scoping.fact_scope(who),
                             scoping.fact_filter(who), None, True)


@pytest.mark.parametrize(("user", "args", "expected"), [
    ("center1", {}, ("", {""}, False)),
    ("analyst1", {"date_from": "2026-01-01"}, ("", {""}, False)),
    ("center1", {"township": "T01"}, ("township", {"T01"}, False)),
    ("center1", {"matter": "yiliao", "date_to": "2030-06-30"}, ("matters", {"yiliao", "linshi,yiliao"}, False)),
    ("center1", {"matter": "tekun"}, ("matters", set(), False)),  # no case names it: nothing to read
    ("center1", {"assistance_type": "yiliao"}, ("matters", {"yiliao", "linshi,yiliao"}, False)),
    ("center1", {"assistance_type": "yiliao", "matter": "linshi"}, ("matters", {"linshi,yiliao"}, False)),
    ("center1", {"department": "yibao"}, ("department", {"yibao"}, False)),
    ("center1", {"township": "T01", "matter": "dibao"}, ("township_matters", set(), False)),  # none there
    ("center1", {"township": "T01", "matter": "dibao", "channel": "window"}, None),
    ("center1", {"level": "village"}, ("level", {"village"}, False)),
    ("center1", {"status": "completed"}, ("status_level", {"closed_completed|village"}, False)),
    ("center1", {"status": "running", "level": "township"}, ("status_level", {"open|township"}, False)),
    ("center1", {"status": "running", "channel": "window"}, None),
    # linshi,yiliao|open: the closed case's code while it was open (its rows now zero, read as nothing)
    ("center1", {"matter": "yiliao", "status": "running"}, ("matters_status", {"yiliao|open", "linshi,yiliao|open"},
                                                            False)),
    ("center1", {"channel": "window", "level": "village"}, ("channel_level", {"window|village"}, False)),
    ("center1", {"channel": "window", "level": "village", "status": "running"}, None),
    ("center1", {"green": "1"}, ("green", {"1"}, False)),
    ("center1", {"satisfaction": "satisfied"}, ("rating", {"satisfied"}, False)),
    ("center1", {"village": "T01V01"}, None),
    ("mz1", {}, ("department", {"minzheng"}, True)),
    ("mz1", {"department": "minzheng"}, ("department", {"minzheng"}, False)),
    ("center1", {"department": "minzheng", "status": "completed"}, ("department_status",
                                                                   {"minzheng|closed_completed"}, False)),
    ("center1", {"department": "yibao", "channel": "window"}, ("department_channel", {"yibao|window"}, False)),
    ("center1", {"matter": "yiliao", "channel": "window"}, ("matters_channel", {"yiliao|window",
                                                                               "linshi,yiliao|window"}, False)),
    ("mz1", {"department": "yibao"}, None),
    # the department's own cases as the county's of that department, and the few others beside them
    ("mz1", {"status": "completed"}, ("department_status", {"minzheng|closed_completed"}, True)),
    ("mz1", {"department": "minzheng", "status": "completed"}, ("department_status", {"minzheng|closed_completed"},
                                                                False)),
    ("center1", {"department": "yibao", "matter": "yiliao"}, ("department_matters", {"yibao|yiliao",
                                                                                    "yibao|linshi,yiliao"}, False)),
    ("mz1", {"matter": "dibao"}, ("department_matters", set(), True)),  # none of its own: the others alone
    ("center1", {"department": "yibao", "matter": "yiliao", "channel": "window"},
     ("dept_matters_channel", {"yibao|yiliao|window", "yibao|linshi,yiliao|window"}, False)),
    ("yb1", {"matter": "yiliao", "channel": "window"},
     ("dept_matters_channel", {"yibao|yiliao|window", "yibao|linshi,yiliao|window"}, True)),
    ("center1", {"township": "T02", "matter": "yiliao"}, ("township_matters", {"T02|yiliao"}, False)),
    ("center1", {"township": "T01", "channel": "window"}, ("township_channel", {"T01|window"}, False)),
    ("town1", {"matter": "yiliao"}, ("township_matters", {"T01|yiliao", "T01|linshi,yiliao"}, True)),
    ("town1", {"channel": "window"}, ("township_channel", {"T01|window"}, True)),
    ("town1", {}, ("township", {"T01"}, True)),
    ("town1", {"township": "T01"}, ("township", {"T01"}, False)),
    ("town1", {"township": "T02"}, None),
    ("village1", {}, None),
    ("joint1", {}, None),
])
def test_which_requests_the_tally_serves(county: Any, user: str, args: dict[str, str],
                                         expected: tuple[str, set[str], bool] | None) -> None:
    """One slice (the scope's, or the county's narrowed to the slice that stands for the filter's fields: a
    township, channel, level, department; matters and 救助类型 by the cases' matters together; a status, with
    or without a level) and a period: the tally, reading the slice codes the tally holds that match; anything
    else: the fact rows."""
    found = _source(county, user, args)
    if expected is None:
        assert found.tally is None
    else:
        assert (found.tally.kind, set(found.tally.codes), found.rest is not None) == expected


@pytest.mark.parametrize(("user", "args"), [("town1", {"matter": "yiliao", "channel": "window"}),
                                            ("town1", {"status": "running"}),
                                            ("mz1", {"township": "T02", "matter": "yiliao"}),
                                            ("yb1", {"village": "T02V01"})])
def test_a_scope_of_a_slice_reads_it_as_the_county_narrowed_to_it(county: Any, user: str,
                                                                    args: dict[str, str]) -> None:
    """No tally slice holds a township's cases of a matter and a channel (or of a status), nor a department's of
    a township and a matter: they are read from the fact rows as the county's under the filter narrowed to the
    scope's township or department (`cases`, by its index), and the few cases beyond the slice beside them
    (`rest`), instead of the whole scope's union under the filter."""
    found = _source(county, user, args)
    assert found.tally is None and found.cases is not None and found.rest is not None


@pytest.mark.parametrize("revision", ["0024", "0025", "0028", "0029"])
def test_an_upgrade_fills_the_rows_and_the_tally(county: Any, revision: str) -> None:
    """From before the dashboard (0024) or before the tally (0025), upgrading to the head computes what the
    steps had kept: the same tally."""
    from alembic import command

    from engine import schema

    url = county.settings.database_url
    kept = _tally(url)
    config = schema.alembic_config(url)
    command.downgrade(config, revision)
    try:
        command.upgrade(config, "head")
    finally:
        schema.upgrade(url)
    assert _tally(url) == kept and kept


def test_a_task_past_due_is_late_before_the_deadline_job_flags_it(county: Any) -> None:
    """分部门's 超期 counts an open task past its due time at once, from the tally as from the fact rows."""
    from datetime import timedelta

    from engine import clock
    from engine.tables import DEPT_FACT

    with tx(county.settings.database_url) as session:
        still_open = session.execute(select(DEPT_FACT.c.case_no).where(
            DEPT_FACT.c.group_code == "yibao", DEPT_FACT.c.open_due_at.is_not(None))).scalars().all()
    assert len(still_open) == 2
    who = principal(county, "center1")

    def late(per_case: bool = False, **args: Any) -> int:
        rows = county.dashboard.chart(who, "departments", args, per_case=per_case)["table"].rows
        return next(row["cells"][3] for row in rows if row["narrow"] == {"department": "yibao"})
    assert late() == 0
    with clock.frozen_at(clock.now() + timedelta(days=60)):
        assert late() == 2 and late(per_case=True) == 2 and late(township="T02") == 2
        # one of them done after its due time: late for good (the group's row says so), both ways
        late_case = sorted(still_open)[0]
        county.complete_task(open_task(county, late_case, "dept_accept", "yibao"), "yb1", accept())
        assert late() == 2 and late(per_case=True) == 2
        assert late(per_case=True, status="running") == late(status="running")


def test_a_department_handling_time_in_whole_days_is_the_same_both_ways(county: Any) -> None:
    """分部门's 90th percentile in whole days: a department that took 50 hours shows 3 days (2 whole days, +1)
    from the tally as from the fact rows, which group by the day, not the hour."""
    from datetime import timedelta

    from engine.dashboard import facts as dashboard_facts
    from engine.tables import APPLICATION, TASK_GROUP

    url = county.settings.database_url
    with tx(url) as session:
        case_no = session.execute(select(APPLICATION.c.case_no).order_by(APPLICATION.c.case_no)).scalars().first()
        tasks = session.execute(select(TASK.c.id, TASK.c.created_at).join(
            TASK_GROUP, TASK_GROUP.c.task_id == TASK.c.id).where(
            TASK.c.case_no == case_no, TASK_GROUP.c.group_code == "minzheng")).all()
        for task_id, created in tasks:
            session.execute(TASK.update().where(TASK.c.id == task_id).values(created_at=created - timedelta(hours=50)))
        dashboard_facts.refresh(session.connection(), [case_no])
    who = principal(county, "center1")
    for args in ({}, {"department": "minzheng"}, {"matter": "linshi"}):
        shown, counted = (next(row["cells"][5] for row in county.dashboard.chart(
            who, "departments", args, per_case=per_case)["table"].rows if row["narrow"] == {"department": "minzheng"})
            for per_case in (False, True))
        assert shown == counted == 3, args


def test_every_slice_name_fits_the_tally_column() -> None:
    """PostgreSQL bounds `fact_tally.slice` (SQLite would take a longer name and the other would fail)."""
    width = FACT_TALLY.c.slice.type.length
    names = [facts.COUNTY, facts.TOWNSHIP, facts.CHANNEL, facts.DEPARTMENT, facts.LEVEL, facts.GREEN,
             facts.RATING_SLICE, *facts.COMPOUND]
    assert all(len(name) <= width for name in names), [name for name in names if len(name) > width]
