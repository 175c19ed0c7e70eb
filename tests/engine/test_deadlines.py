"""Deadline jobs with a controlled clock: overdue flags, reminders, escalation, once only (R-6.2.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.access.accounts import load_demo_data
from engine.deadlines.jobs import tick
from engine.models import HumanTask, Notification
from tests.support.cli import relief
from tests.support.db import suite_settings, tx

# Monday 2026-03-02 09:00 in Jiangsu: triage (2 working days) is due Wednesday 03-04 23:59:59 local.
MONDAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def county(case_engine: Any, clean_db: str) -> Any:
    """The demo county's organisations and users (for recipients), with the process deployed."""
    with tx(clean_db) as session:
        load_demo_data(session, suite_settings(), clock.now())
    return case_engine


def notices(url: str, kind: str) -> list[Notification]:
    """The in-app notices of one kind."""
    with tx(url) as session:
        return list(session.scalars(select(Notification).where(Notification.kind == kind)
                                    .order_by(Notification.username)))


def test_overdue_is_flagged_once_and_escalated(county: Any, start_case: Any, clean_db: str) -> None:
    """A task past its due time is flagged once; assignee, group and supervisors are told once."""
    with clock.frozen_at(MONDAY):
        case = start_case()
        [triage] = case.open_tasks()
        county.claim_task(triage["id"], "center1")
    assert tick(county, MONDAY + timedelta(hours=5))["tasks_flagged"] == []
    late = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    report = tick(county, late)
    assert [f["task_id"] for f in report["tasks_flagged"]] == [triage["id"]]
    for hours in range(1, 100):
        again = tick(county, late + timedelta(hours=hours))
        assert again["tasks_flagged"] == [] and again["notices_queued"] == 0
    told = notices(clean_db, "overdue")
    assert {n.username for n in told} == {"center1"}  # the only center officer; claims it too
    assert len(told) == 1 and "超期" in told[0].content and told[0].channel == "in_app"
    assert len(case.events("task_overdue")) == 1
    with tx(clean_db) as session:
        assert session.get_one(HumanTask, triage["id"]).overdue_since == late


def test_reminder_one_working_day_before_due(county: Any, start_case: Any, clean_db: str) -> None:
    """临期提醒 comes once when the due time is within one working day, not earlier."""
    with clock.frozen_at(MONDAY):
        case = start_case()
        case.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    # dept_accept: 3 working days from Monday → due Thursday 03-05; the reminder starts Wednesday.
    assert tick(county, MONDAY + timedelta(hours=2))["reminders"] == []
    wednesday = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    assert [r["task"] for r in tick(county, wednesday)["reminders"]] == ["受理告知"]
    assert tick(county, wednesday + timedelta(hours=3))["reminders"] == []
    told = notices(clean_db, "due_soon")
    assert {n.username for n in told} == {"mz1"} and len(case.events("task_due_soon")) == 1


def test_department_overrun_raises_supervision_once_through_tick(county: Any, start_case: Any,
                                                                  clean_db: str) -> None:
    """The 15-working-day department timer fires through tick exactly once, over many ticks."""
    with clock.frozen_at(MONDAY):
        case = start_case()
        case.complete("triage", {"decision": "eligible", "departments": ["renshe"]})
    overrun = MONDAY + timedelta(days=30)
    fired = [tick(county, overrun + timedelta(minutes=m))["timers_fired"] for m in range(100)]
    assert [len(f) for f in fired].count(1) == 1 and sum(len(f) for f in fired) == 1
    assert len(case.open_tasks("supervision")) == 1


def test_tick_from_the_command_line(county: Any, start_case: Any, clean_db: str) -> None:
    """`relief scheduler tick --now` runs the jobs with that clock and prints one JSON report."""
    with clock.frozen_at(MONDAY):
        start_case()
    report = relief("scheduler", "tick", "--now", "2026-03-10T09:00:00+08:00", database_url=clean_db)
    assert len(report["tasks_flagged"]) == 1 and report["notices_queued"] >= 1
    assert report["now"] == "2026-03-10T01:00:00+00:00"
    assert relief("scheduler", "tick", "--now", "yesterday", database_url=clean_db, expect=1)["error"] == "invalid"


def test_spring_festival_and_make_up_days_move_the_deadline(county: Any, start_case: Any) -> None:
    """Triage registered Friday 2026-02-13 (2 working days): Sat 02-14 is a make-up workday, 02-15–02-23 are
    the Spring Festival holiday, so it is due at the end of Tue 02-24 — not overdue on 02-20, overdue on 02-25."""
    with clock.frozen_at(datetime(2026, 2, 13, 2, 0, tzinfo=UTC)):
        case = start_case()
    [triage] = case.open_tasks()
    assert triage["due_at"] == "2026-02-24T15:59:59+00:00"
    assert tick(county, datetime(2026, 2, 20, 2, 0, tzinfo=UTC))["tasks_flagged"] == []
    assert len(tick(county, datetime(2026, 2, 25, 2, 0, tzinfo=UTC))["tasks_flagged"]) == 1


def test_supervision_once_across_scheduler_restarts(county: Any, start_case: Any, clean_db: str) -> None:
    """Each tick from a fresh engine (a restarted scheduler: no caches) still raises 督办 exactly once."""
    from engine.cases.runtime import CaseEngine

    with clock.frozen_at(MONDAY):
        case = start_case()
        case.complete("triage", {"decision": "eligible", "departments": ["zhujian"]})
    overrun = MONDAY + timedelta(days=40)
    engine = CaseEngine.for_url(clean_db)
    fired = sum(len(tick(engine, overrun + timedelta(hours=h))["timers_fired"]) for h in range(20))
    assert fired == 1
    assert len(case.open_tasks("supervision")) == 1 and len(case.events("timer_fired")) == 1
