"""The inbox index (`inbox_entry`): the open tasks of open cases, filed under each viewer key.

The inbox reads a page as one index range per viewer key (`engine.access.scoping.inbox_keys`), in the
order of the page, instead of checking every open task against the user's groups. This module keeps the
index in step with the task mirror, in the same transaction as the step that changes it:

- `add` files newly READY tasks of an open case (under `scoping.entry_keys`), with the sort keys and
  the application's filter columns;
- `remove` drops tasks that were completed or cancelled;
- `reassign` moves a task's holder key when it is claimed, released or assigned;
- `rebuild` refiles one instance from its task rows (its status changed, or it was migrated).

Only open cases are filed: a suspended or errored case's tasks leave the inbox until it runs again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, bindparam, delete, insert, literal, select

from engine.access import scoping
from engine.status import OPEN, READY
from engine.tables import APPLICATION, INBOX, INSTANCE, TASK

# Undated tasks sort after every dated one (the same on SQLite and PostgreSQL, NULLs need no care).
UNDATED = datetime(9999, 12, 31, tzinfo=UTC)
MAX_MATTERS_TEXT = 500

_APPLICATIONS = select(APPLICATION.c.case_no, APPLICATION.c.township, APPLICATION.c.channel,
                       APPLICATION.c.green_channel, APPLICATION.c.matters).where(
    APPLICATION.c.case_no.in_(bindparam("case_nos", expanding=True)))
_INSERT = insert(INBOX)
_REMOVE = delete(INBOX).where(INBOX.c.task_id.in_(bindparam("task_ids", expanding=True)))
_REMOVE_HOLDER = delete(INBOX).where(INBOX.c.task_id == bindparam("task_id"),
                                     INBOX.c.viewer.startswith(scoping.ASSIGNEE_KEY, autoescape=True))
_ENTRY_COLUMNS = [c for c in INBOX.c if c.name != "viewer"]
# A holder's entry is a copy of the task's everyone entry (which exists only while the case is open).
_ADD_HOLDER = insert(INBOX).from_select(
    ["viewer", *(c.name for c in _ENTRY_COLUMNS)],
    select(bindparam("viewer", type_=INBOX.c.viewer.type), *_ENTRY_COLUMNS).where(
        INBOX.c.task_id == bindparam("task_id"), INBOX.c.viewer == literal(scoping.ALL_TASKS)))


def matters_text(matters: Iterable[Any]) -> str:
    """A case's matter codes as the index keeps them, `|code|code|` (a LIKE `%|code|%` finds one)."""
    codes = [str(m) for m in matters or [] if m not in (None, "")]
    return f"|{'|'.join(codes)}|"[:MAX_MATTERS_TEXT] if codes else ""


def entries(rows: Sequence[Mapping[str, Any]], applications: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The index rows of open task rows (human_task columns) with their cases' application columns."""
    found: list[dict[str, Any]] = []
    for row in rows:
        app = applications.get(row["case_no"], {})
        common = {
            "task_id": row["id"], "instance_id": row["instance_id"], "case_no": row["case_no"], "name": row["name"],
            "green_rank": 0 if app.get("green_channel") else 1, "due_key": row["due_at"] or UNDATED,
            "created_at": row["created_at"], "township": app.get("township"), "channel": app.get("channel"),
            "matters": matters_text(app.get("matters") or []),
            "supplemented": bool((row["context"] or {}).get("supplement")),
        }
        excluded = (row["context"] or {}).get(scoping.EXCLUDED_USER)
        found.extend({"viewer": key, **common}
                     for key in scoping.entry_keys(row["candidate_groups"], row["assignee"], excluded))
    return found


def _applications(conn: Connection, case_nos: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    wanted = sorted(set(case_nos))
    if not wanted:
        return {}
    return {r.case_no: _mapping(r) for r in conn.execute(_APPLICATIONS, {"case_nos": wanted})}


def _mapping(row: Any) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], row._mapping)


def add(conn: Connection, instance_status: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """File newly READY tasks (their human_task rows) of an instance whose status is `instance_status`."""
    if instance_status != OPEN or not rows:
        return
    values = entries(rows, _applications(conn, (r["case_no"] for r in rows)))
    if values:
        conn.execute(_INSERT, values)


def remove(conn: Connection, task_ids: Sequence[str]) -> None:
    """Drop tasks from the index (completed or cancelled)."""
    if task_ids:
        conn.execute(_REMOVE, {"task_ids": list(task_ids)})


def reassign(conn: Connection, task_id: str, assignee: str | None) -> None:
    """The task is now held by `assignee` (None: back to its groups)."""
    conn.execute(_REMOVE_HOLDER, {"task_id": task_id})
    if assignee:
        conn.execute(_ADD_HOLDER, {"task_id": task_id, "viewer": f"{scoping.ASSIGNEE_KEY}{assignee}"})


_TASK_COLUMNS = (TASK.c.id, TASK.c.instance_id, TASK.c.case_no, TASK.c.name, TASK.c.candidate_groups,
                 TASK.c.assignee, TASK.c.due_at, TASK.c.created_at, TASK.c.context)


def rebuild(conn: Connection, instance_id: int, instance_status: str) -> None:
    """Refile one instance's open tasks from their rows (nothing when the case, in `instance_status`, is
    not open)."""
    rows = [_mapping(r) for r in conn.execute(select(*_TASK_COLUMNS).where(
        TASK.c.instance_id == instance_id, TASK.c.state == READY))]
    remove(conn, [r["id"] for r in rows])  # only open tasks are ever filed
    add(conn, instance_status, rows)


def rebuild_all(conn: Connection) -> int:
    """Refile every open task of every open case (after a migration or a repair); return the tasks filed."""
    conn.execute(delete(INBOX))
    query = select(*_TASK_COLUMNS).join(INSTANCE, INSTANCE.c.id == TASK.c.instance_id).where(
        TASK.c.state == READY, INSTANCE.c.status == OPEN).order_by(TASK.c.instance_id)
    rows = [_mapping(r) for r in conn.execute(query)]
    for start in range(0, len(rows), 2000):
        add(conn, OPEN, rows[start:start + 2000])
    return len(rows)
