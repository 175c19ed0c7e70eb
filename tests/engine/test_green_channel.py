"""Green-channel cases (绿色通道, R-6.3.5) get shorter due times, counted in working days."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest

from engine import clock
from engine.clock import LOCAL_TZ
from engine.deadlines.policy import DueTimePolicy
from engine.settings import Settings, SettingsError
from tests.support.cases import CaseWalker, applicant
from tests.support.db import engine_for

ONE_DEPARTMENT = {"decision": "eligible", "departments": ["minzheng"]}
ACCEPT = {"materials": ["身份证"], "location": "窗口", "field_work": "none"}


def local(day: str, hour: int = 9) -> datetime:
    """A moment in Jiangsu local time."""
    return datetime.combine(date.fromisoformat(day), time(hour), tzinfo=LOCAL_TZ)


def due_day(task: dict[str, Any]) -> str:
    """The local date a task is due; due times are always 23:59:59 local."""
    due = datetime.fromisoformat(task["due_at"]).astimezone(LOCAL_TZ)
    assert due.time() == time(23, 59, 59)
    return due.date().isoformat()


def due_of(case: Any, form_key: str) -> str:
    """The due date of the case's one open task with `form_key`."""
    [task] = case.open_tasks(form_key)
    return due_day(task)


def walk_to_department_result(start_case: Any, green: bool, at: datetime) -> Any:
    """Start a case at `at` and take it through triage and acceptance by 民政局 at the same moment."""
    with clock.frozen_at(at):
        case = start_case(green_channel=green)
        case.complete("triage", ONE_DEPARTMENT)
        case.complete("dept_accept", ACCEPT)
    return case


def test_green_channel_triage_is_due_after_one_working_day(start_case: Any) -> None:
    """Triage (dueWorkdays 2) started Monday is due Tuesday on the green channel, Wednesday otherwise."""
    with clock.frozen_at(local("2026-03-02")):
        green, normal = start_case(green_channel=True), start_case()
    assert due_of(green, "triage") == "2026-03-03"
    assert due_of(normal, "triage") == "2026-03-04"


def test_department_steps_are_shortened_and_rounded_up(start_case: Any) -> None:
    """受理告知 3 → 2 and 办结反馈 15 → 8 working days (rounded up) for a green-channel case."""
    monday = local("2026-03-02")
    with clock.frozen_at(monday):
        green = start_case(green_channel=True)
        green.complete("triage", ONE_DEPARTMENT)
        assert due_of(green, "dept_accept") == "2026-03-04"
        green.complete("dept_accept", ACCEPT)
    assert due_of(green, "dept_result") == "2026-03-12"
    assert due_of(walk_to_department_result(start_case, False, monday), "dept_result") == "2026-03-23"


@pytest.mark.parametrize(("factor", "triage", "dept_result"), [
    ("0.2", "2026-03-03", "2026-03-05"),   # 2 × 0.2 → at least 1; 15 × 0.2 = 3
    ("1", "2026-03-04", "2026-03-23"),     # 1 turns the shortening off
    ("2/3", "2026-03-04", "2026-03-16"),   # 2 × 2/3 → 2; 15 × 2/3 = 10
])
def test_factor_comes_from_the_settings(clean_db: str, factor: str, triage: str, dept_result: str) -> None:
    """RELIEF_GREEN_CHANNEL_FACTOR (Settings.green_channel_factor) sets how much shorter green-channel due times are."""
    engine = engine_for(clean_db, deploy=True, county=True, GREEN_CHANNEL_FACTOR=factor)

    def start_case(green_channel: bool = False) -> CaseWalker:
        case_no, _ = engine.start_case(applicant(), "window", "village", green_channel, "clerk1")
        return CaseWalker(engine, case_no)

    monday = local("2026-03-02")
    with clock.frozen_at(monday):
        assert due_of(start_case(green_channel=True), "triage") == triage
    assert due_of(walk_to_department_result(start_case, True, monday), "dept_result") == dept_result


@pytest.mark.parametrize(("started", "green", "normal"), [
    # Friday before 春节: the 调休 Saturday 02-14 is a working day, then 02-15..02-23 are off.
    ("2026-02-13", "2026-02-14", "2026-02-24"),
    # Registered during the holiday: counting starts after the holiday.
    ("2026-02-18", "2026-02-24", "2026-02-25"),
    # Saturday 02-28 is a 调休 working day as well.
    ("2026-02-27", "2026-02-28", "2026-03-02"),
])
def test_green_channel_across_the_spring_festival(start_case: Any, started: str, green: str,
                                                  normal: str) -> None:
    """Shortened due times still skip 春节 2026 and count its make-up Saturdays (调休)."""
    with clock.frozen_at(local(started, hour=10)):
        green_case, normal_case = start_case(green_channel=True), start_case()
    assert due_of(green_case, "triage") == green
    assert due_of(normal_case, "triage") == normal


def test_department_result_across_the_spring_festival(start_case: Any) -> None:
    """办结反馈 of a green-channel case accepted just before 春节 is due 8 working days later."""
    case = walk_to_department_result(start_case, True, local("2026-02-12"))
    # 02-13, 02-14 (调休), 02-24, 02-25, 02-26, 02-27, 02-28 (调休), 03-02.
    assert due_of(case, "dept_result") == "2026-03-02"


@pytest.mark.parametrize(("workdays", "green", "expected"), [
    (0, True, 0), (1, True, 1), (2, True, 1), (3, True, 2), (15, True, 8), (15, False, 15), (0, False, 0),
])
def test_policy_rounds_up_keeps_zero_and_one_day_minimum(workdays: int, green: bool, expected: int) -> None:
    """Half of dueWorkdays, rounded up, at least one working day; 0 stays 0; normal cases unchanged."""
    assert DueTimePolicy().due_workdays(workdays, green) == expected


def test_decimal_factor_is_exact() -> None:
    """0.1 × 30 is 3 working days, not 4 as binary floating point would round up to."""
    assert Settings.from_environ({"RELIEF_GREEN_CHANNEL_FACTOR": "0.1"}).due_policy.due_workdays(30, True) == 3


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5", "half", "1/0"])
def test_bad_factor_is_refused(value: str) -> None:
    """A factor outside (0, 1] or not a number is a configuration error naming the variable."""
    with pytest.raises(SettingsError, match="RELIEF_GREEN_CHANNEL_FACTOR"):
        Settings.from_environ({"RELIEF_GREEN_CHANNEL_FACTOR": value})


def test_supervision_timer_is_shortened_for_the_green_channel(start_case: Any, case_engine: Any) -> None:
    """The 督办 timer on 部门办理 (workday_deadline(15, green_channel)) fires after 8 working days for a
    green-channel case, as its 办结反馈 falls due, and after 15 for any other (R-6.3.5, R-6.2.2)."""
    monday = local("2026-03-02")
    green = walk_to_department_result(start_case, True, monday)
    normal = walk_to_department_result(start_case, False, monday)
    # 8 working days after Monday 03-02 is Thursday 03-12; 15 is Monday 03-23.
    case_engine.fire_timers(local("2026-03-13", hour=1))
    assert green.open_tasks("supervision") and not normal.open_tasks("supervision")
    case_engine.fire_timers(local("2026-03-24", hour=1))
    assert normal.open_tasks("supervision")
