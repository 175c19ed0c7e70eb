"""Deadlines that bite (R-6.2.2): overdue flags, 临期提醒 reminders and escalation notices; the tick also
sends the outbox, ends 救助公示 whose period is over, builds the due electronic archives and, once a day,
runs the audit log's check and retention (`engine.audit.service.AuditTrail.daily_check`).

Each job reads only the tasks it may act on (indexed by state and due time), marks them with a
guarded UPDATE … WHERE flag IS NULL RETURNING, and writes events and notices only for the rows
that this run marked, so flags and notices are recorded once however often the jobs run and
however many schedulers race. Notices carry a unique key as a second guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, select, update

from engine import clock, db
from engine.access.scoping import USERS, excluded_user, members_clause
from engine.cases import publicity, store
from engine.deadlines.due import due_soon_clause, past_due_clause
from engine.deadlines.workcal import WorkCalendar
from engine.notify.outbox import queue_in_app
from engine.status import READY
from engine.tables import TASK

if TYPE_CHECKING:
    from engine.cases.runtime import CaseEngine


def _open_tasks_where(conn: Connection, *conditions: Any) -> list[Mapping[str, Any]]:
    # Tasks of suspended cases wait with their case: no flags, reminders or escalation meanwhile.
    rows = conn.execute(select(*store.TASK_COLUMNS).where(TASK.c.state == READY, store.task_of_open_case(),
                                                          *conditions))
    return [cast(Mapping[str, Any], row._mapping) for row in rows]


def _mark(conn: Connection, column: str, task_ids: Sequence[str], at: datetime) -> list[str]:
    """Set `column` on the tasks where it is still empty; return the ids this call marked."""
    # One id at a time: with an IN list SQLite's planner (no statistics) falls back to the state
    # index and scans every open task.
    marked = []
    for task_id in task_ids:
        result = conn.execute(update(TASK).where(TASK.c.id == task_id, TASK.c[column].is_(None),
                                                 TASK.c.state == READY).values({column: at}))
        if result.rowcount == 1:
            marked.append(task_id)
    return marked


def recipients(conn: Connection, task: Mapping[str, Any], supervisors: bool) -> list[str]:
    """Active users to tell about a task: its assignee, the members of its candidate groups (as
    `Principal.groups` defines membership), and on escalation the supervisors of its organisations —
    never the person a complaint is about."""
    groups = list(task["candidate_groups"])
    names = set(conn.execute(select(USERS.c.username).where(members_clause(groups))).scalars())
    if supervisors:
        names |= set(conn.execute(select(USERS.c.username).where(
            USERS.c.active.is_(True), USERS.c.is_supervisor.is_(True), USERS.c.org_code.in_(groups))).scalars())
    if task["assignee"]:
        names.add(task["assignee"])
    return sorted(names - {excluded_user(task)})


def _notice(task: Mapping[str, Any], kind: str, username: str, text: str, at: datetime) -> dict[str, Any]:
    return {"case_no": task["case_no"], "recipient": "staff", "channel": "in_app", "username": username,
            "kind": kind, "content": text, "details": {"task_id": task["id"], "task": task["name"]},
            "status": "pending", "created_at": at, "dedup_key": f"{kind}:{task['id']}:{username}"}


def _announce(conn: Connection, tasks: Sequence[Mapping[str, Any]], kind: str, event: str, now: datetime,
              escalate: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Events and notices for tasks this run marked: one event each, one notice per recipient."""
    events, notices = [], []
    for task in tasks:
        local_due = clock.local_text(task["due_at"])
        text = (f"【超期】{task['case_no']}「{task['name']}」已超过办理时限（{local_due}），请尽快办理" if escalate
                else f"【临期提醒】{task['case_no']}「{task['name']}」将于 {local_due} 到期")
        notices += [_notice(task, kind, name, text, now) for name in recipients(conn, task, supervisors=escalate)]
        events.append({"case_no": task["case_no"], "type": event, "actor": "scheduler", "at": now,
                       "task_id": task["id"], "task_name": task["name"],
                       "data": {"due_at": task["due_at"].isoformat()}})
    return events, notices


def flag_overdue(conn: Connection, now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Flag READY tasks past their due time (once) and escalate; return (events, notices)."""
    due = _open_tasks_where(conn, past_due_clause(now), TASK.c.overdue_since.is_(None))
    marked = set(_mark(conn, "overdue_since", [r["id"] for r in due], now))
    return _announce(conn, [r for r in due if r["id"] in marked], "overdue", "task_overdue", now, escalate=True)


def remind_due_soon(conn: Connection, now: datetime,
                    calendar: WorkCalendar) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Remind (once) about READY tasks due within one working day; return (events, notices)."""
    within = _open_tasks_where(conn, due_soon_clause(now, calendar), TASK.c.reminded_at.is_(None))
    marked = set(_mark(conn, "reminded_at", [r["id"] for r in within], now))
    return _announce(conn, [r for r in within if r["id"] in marked], "due_soon", "task_due_soon", now,
                     escalate=False)


def tick(engine: CaseEngine, now: datetime) -> dict[str, Any]:
    """Run every deadline job once with the clock at `now`; report what each did."""
    timers = engine.fire_timers(now)
    with db.transaction(engine.sessions) as session:
        conn = session.connection()
        overdue_events, overdue_notices = flag_overdue(conn, now)
        soon_events, soon_notices = remind_due_soon(conn, now, engine.calendar)
        queued = queue_in_app(conn, [*overdue_notices, *soon_notices])
        store.insert_events(conn, [*overdue_events, *soon_events])
        notices_ended = publicity.end_due(conn, now)  # 救助公示 whose period is over leave the portal
    audit_check = engine.audit.daily_check(now)  # once a day: the audit log's chain, then retention
    deliveries = engine.outbox.deliver(now)
    archives = engine.archives.build_due(now)  # 电子化归档 of cases that ended: a few per tick
    return {
        "now": now.isoformat(), "timers_fired": timers,
        "tasks_flagged": [{"task_id": e["task_id"], "case_no": e["case_no"], "task": e["task_name"]}
                          for e in overdue_events],
        "reminders": [{"task_id": e["task_id"], "case_no": e["case_no"], "task": e["task_name"]}
                      for e in soon_events],
        "notices_queued": queued, "deliveries": deliveries, "public_notices_ended": notices_ended,
        "archives_built": archives["archived"], "archive_failures": archives["failed"],
        "audit_check": audit_check,
    }
