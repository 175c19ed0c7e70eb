"""Where a task stands against its deadline (剩余 N 个工作日 / 今日到期 / 超期 N 天), in one place.

`due_state` answers for one task, in Python, for every page, the receipt and the instance page;
`is_overdue` (the same rule, without the working-day count) for the task lists of the API and the
CLI and the instance diagram; `overdue_clause` and `due_soon_clause` are the same rules as SQL, for
the inbox filters and sort, the instance list and the deadline jobs. A task is overdue once its due time
has passed, and stays overdue once the deadline job has flagged it (`overdue_since`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Table, and_, or_

from engine.deadlines.workcal import WorkCalendar
from engine.status import READY
from engine.tables import TASK

Kind = Literal["none", "ok", "soon", "today", "overdue"]


@dataclass(frozen=True)
class DueState:
    """A task's standing: `kind`, working days left (ok/soon) or calendar days overdue."""

    kind: Kind
    workdays_left: int = 0
    days_overdue: int = 0

    @property
    def overdue(self) -> bool:
        """True when the task is past its due time (or flagged so)."""
        return self.kind == "overdue"

    @property
    def urgent(self) -> bool:
        """True when at most one working day is left (临期) or the task is overdue."""
        return self.kind in ("soon", "today", "overdue")


def is_overdue(due_at: datetime | None, now: datetime, overdue_since: datetime | None = None) -> bool:
    """True when the due time has passed, or the deadline job flagged the task overdue."""
    return overdue_since is not None or (due_at is not None and due_at < now)


def due_state(due_at: datetime | str | None, now: datetime, calendar: WorkCalendar,
              overdue_since: datetime | None = None) -> DueState:
    """Where a task due at `due_at` stands at `now` (local days and working days of `calendar`)."""
    due = datetime.fromisoformat(due_at) if isinstance(due_at, str) else due_at
    if due is None:
        return DueState("overdue", days_overdue=1) if overdue_since is not None else DueState("none")
    today, due_day = now.astimezone(calendar.tz).date(), due.astimezone(calendar.tz).date()
    if is_overdue(due, now, overdue_since):
        return DueState("overdue", days_overdue=max(1, (today - due_day).days))
    left = calendar.workdays_between(today, due_day)
    if left <= 0:
        return DueState("today")
    return DueState("soon" if left <= 1 else "ok", workdays_left=left)


def past_due_clause(now: datetime, task: Table = TASK) -> ColumnElement[bool]:
    """SQL: the task's due time has passed at `now` (the deadline job flags these once)."""
    return task.c.due_at < now


def entry_overdue_clause(now: datetime, due_key: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL on the inbox index (`due_key`, undated ones far ahead): the open task is overdue at `now`. The
    flag needs no column there: the deadline job flags a task only once its due time has passed, and a
    task's due time never moves."""
    return due_key < now


def overdue_clause(now: datetime, task: Table = TASK) -> ColumnElement[bool]:
    """SQL: the task is overdue at `now` (past due, or flagged)."""
    return or_(task.c.overdue_since.is_not(None), past_due_clause(now, task))


def reminder_bound(now: datetime, calendar: WorkCalendar) -> datetime:
    """Local midnight starting the second working day after today: tasks due before it have at most
    one working day left (the same rule as `due_state(...).urgent`)."""
    day = now.astimezone(calendar.tz).date()
    found = 0
    while found < 2:
        day += timedelta(days=1)
        found += calendar.is_workday(day)
    return datetime.combine(day, time.min, calendar.tz)


def due_soon_clause(now: datetime, calendar: WorkCalendar, task: Table = TASK) -> ColumnElement[bool]:
    """SQL: the task is not overdue and has at most one working day left (临期)."""
    return and_(task.c.overdue_since.is_(None), task.c.due_at >= now, task.c.due_at < reminder_bound(now, calendar))



def went_overdue_clause(now: datetime, task: Table = TASK) -> ColumnElement[bool]:
    """SQL: the task went overdue at some time — it is open and overdue now, it was flagged, or it was
    completed after its due time (超期办理: the case query's and the dashboard's 超期)."""
    return or_(task.c.overdue_since.is_not(None), and_(task.c.state == READY, past_due_clause(now, task)),
               task.c.completed_at > task.c.due_at)
