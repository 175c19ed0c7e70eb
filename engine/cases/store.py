"""Persistence of running cases (store): instance rows, the human-task mirror, events, notices.

The engine's hot path writes with SQLAlchemy Core statements on the session's connection rather
than through the ORM unit of work: a step is a handful of fixed statements, and the ORM's
bookkeeping cost several times what the database itself spends on them (see bench/).
Other code (queries, administration, the web app) may use the ORM models freely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Row, Table, bindparam, exists, insert, select, update

from engine import logs
from engine.cases import inbox_index
from engine.dashboard import facts
from engine.errors import NotDeployed, TaskConflict
from engine.status import CANCELLED, COMPLETED, OPEN, READY
from engine.tables import DEFINITION, EVENT, HOTLINE, INSTANCE, TASK, TASK_GROUP

TASK_COLUMNS = (TASK.c.id, TASK.c.instance_id, TASK.c.case_no, TASK.c.task_spec, TASK.c.name, TASK.c.form_key,
                TASK.c.candidate_groups, TASK.c.context, TASK.c.assignee, TASK.c.state, TASK.c.created_at,
                TASK.c.due_at, TASK.c.completed_at, TASK.c.completed_by, TASK.c.overdue_since)



def _mapping(row: Any) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], row._mapping)


def typed_param(name: str, column: Any) -> Any:
    """A bound parameter named `name` of `column`'s type (so its values convert as the column's do)."""
    return bindparam(name, type_=column.type)


# Statements are built once: constructing a statement costs more than executing it on SQLite.
_GET_TASK = select(*TASK_COLUMNS).where(TASK.c.id == bindparam("task_id"))
_COMPLETE_TASK = update(TASK).where(TASK.c.id == bindparam("task_id")).values(
    state=COMPLETED, completed_at=typed_param("at", TASK.c.completed_at), completed_by=bindparam("user"),
    data=typed_param("values", TASK.c.data))
_OPEN_OF_INSTANCE = select(*TASK_COLUMNS).where(
    TASK.c.instance_id == bindparam("instance_id"), TASK.c.state == READY)
_OPEN_ORDER = (TASK.c.due_at, TASK.c.created_at, TASK.c.id)
_OPEN_OF_CASE = select(*TASK_COLUMNS).where(TASK.c.state == READY, TASK.c.case_no == bindparam("case_no")) \
    .order_by(*_OPEN_ORDER)
_INSERT_TASK, _INSERT_GROUP = insert(TASK), insert(TASK_GROUP)

@dataclass
class InstanceState:
    """A process_instance row being worked on in one transaction."""

    id: int
    definition_id: int
    case_no: str
    status: str
    state: str
    state_archive: bytes | None
    serializer_version: str
    lock_version: int
    started_at: datetime
    ended_at: datetime | None
    next_timer_at: datetime | None
    supplement_since: datetime | None = None  # 待补正: waiting for the applicant's supplement since
    read_status: str = ""  # the status as read: a change to or from open refiles the inbox index

    def __post_init__(self) -> None:
        self.read_status = self.read_status or self.status

    @property
    def awaiting_supplement(self) -> bool:
        """待补正 (R-6.2.2): the case is open and waits for the applicant's supplement."""
        return self.status == OPEN and self.supplement_since is not None


_INSTANCE_COLUMNS = (INSTANCE.c.id, INSTANCE.c.definition_id, INSTANCE.c.case_no, INSTANCE.c.status,
                     INSTANCE.c.state, INSTANCE.c.state_archive, INSTANCE.c.serializer_version, INSTANCE.c.lock_version,
                     INSTANCE.c.started_at, INSTANCE.c.ended_at, INSTANCE.c.next_timer_at, INSTANCE.c.supplement_since)
_LOAD_INSTANCE = select(*_INSTANCE_COLUMNS).where(INSTANCE.c.id == bindparam("instance_id"))
_LOCK_INSTANCE = _LOAD_INSTANCE.with_for_update()
_LOCK_INSTANCE_OF_TASK = select(*_INSTANCE_COLUMNS).where(
    INSTANCE.c.id == select(TASK.c.instance_id).where(TASK.c.id == bindparam("task_id")).scalar_subquery()
).with_for_update()
_SAVE_INSTANCE = update(INSTANCE).where(
    INSTANCE.c.id == bindparam("b_id"), INSTANCE.c.lock_version == bindparam("b_lock")).values(
    status=bindparam("b_status"), state=bindparam("b_state"), state_archive=bindparam("b_archive"),
    serializer_version=bindparam("b_version"),
    ended_at=typed_param("b_ended", INSTANCE.c.ended_at),
    next_timer_at=typed_param("b_timer", INSTANCE.c.next_timer_at),
    supplement_since=typed_param("b_supplement", INSTANCE.c.supplement_since),
    lock_version=bindparam("b_lock") + 1)


def load_instance(conn: Connection, instance_id: int, lock: bool = False) -> InstanceState | None:
    """Read an instance row, locking it for the rest of the transaction when asked."""
    row = conn.execute(_LOCK_INSTANCE if lock else _LOAD_INSTANCE, {"instance_id": instance_id}).first()
    return InstanceState(**row._mapping) if row else None


def lock_instance_of_task(conn: Connection, task_id: str) -> InstanceState | None:
    """Read and lock the instance a human task belongs to (None for an unknown task), in one statement."""
    row = conn.execute(_LOCK_INSTANCE_OF_TASK, {"task_id": task_id}).first()
    return InstanceState(**row._mapping) if row else None


def find_instance(conn: Connection, case_no: str) -> InstanceState | None:
    """Read the instance row of a case."""
    row = conn.execute(select(*_INSTANCE_COLUMNS).where(INSTANCE.c.case_no == case_no)).first()
    return InstanceState(**row._mapping) if row else None


def insert_instance(conn: Connection, values: Mapping[str, Any]) -> InstanceState:
    """Insert a new instance row (lock_version 1) and return it."""
    row = dict(values, lock_version=1, ended_at=None, next_timer_at=None, state_archive=None, supplement_since=None)
    new_id = conn.execute(insert(INSTANCE).values(row).returning(INSTANCE.c.id)).scalar_one()
    fields = [k for k in InstanceState.__dataclass_fields__ if k not in ("id", "read_status")]
    return InstanceState(id=new_id, **{k: row[k] for k in fields})


def save_instance(conn: Connection, instance: InstanceState) -> None:
    """Write the instance back if nobody else did since it was read (optimistic lock), and the case's
    dashboard rows (`engine.dashboard.facts`): every change of a case's status or tasks ends here."""
    result = conn.execute(_SAVE_INSTANCE, {
        "b_id": instance.id, "b_lock": instance.lock_version, "b_status": instance.status, "b_state": instance.state,
        "b_archive": instance.state_archive,
        "b_version": instance.serializer_version, "b_ended": instance.ended_at, "b_timer": instance.next_timer_at,
        "b_supplement": instance.supplement_since})
    if result.rowcount != 1:
        raise TaskConflict("案件已被他人同时处理，请刷新后重试")
    instance.lock_version += 1
    if instance.status != instance.read_status and OPEN in (instance.status, instance.read_status):
        inbox_index.rebuild(conn, instance.id, instance.status)
    instance.read_status = instance.status
    facts.refresh(conn, [instance.case_no])  # the dashboard's rows, in the same transaction


def due_timer_instances(conn: Connection, moment: datetime) -> list[int]:
    """Return the open instances whose next BPMN timer is due at `moment` (uses the index)."""
    return list(conn.execute(select(INSTANCE.c.id).where(
        INSTANCE.c.status == OPEN, INSTANCE.c.next_timer_at <= moment).order_by(INSTANCE.c.next_timer_at)).scalars())


_LATEST_DEFINITION = select(DEFINITION.c.id, DEFINITION.c.version).where(
    DEFINITION.c.key == bindparam("key"), DEFINITION.c.kind == "bpmn").order_by(DEFINITION.c.version.desc()).limit(1)


def latest_definition_id(conn: Connection, key: str) -> tuple[int, int] | None:
    """Return (id, version) of the newest deployed version of process `key`, or None."""
    row = conn.execute(_LATEST_DEFINITION, {"key": key}).first()
    return (row.id, row.version) if row else None


def startable(conn: Connection, key: str) -> tuple[int, int]:
    """(id, version) of the newest version of process `key`, which new cases start on; NotDeployed if none."""
    found = latest_definition_id(conn, key)
    if found is None:
        raise NotDeployed(f"流程 {key} 尚未部署，请先执行 relief deploy")
    return found


def hotline_order_of(conn: Connection, case_no: str) -> str | None:
    """The 12345 work order number a case came from, if any."""
    return conn.execute(select(HOTLINE.c.order_no).where(HOTLINE.c.case_no == case_no)).scalar()


def definition_version(conn: Connection, definition_id: int) -> int:
    """Return the version number of a definition."""
    return int(conn.execute(select(DEFINITION.c.version).where(DEFINITION.c.id == definition_id)).scalar_one())


def get_task(conn: Connection, task_id: str) -> Mapping[str, Any] | None:
    """Read one human-task row."""
    row = conn.execute(_GET_TASK, {"task_id": task_id}).first()
    return _mapping(row) if row else None


def complete_task(conn: Connection, task_id: str, user: str, at: datetime, data: Mapping[str, Any]) -> None:
    """Mark a human task completed by `user` with the submitted data."""
    conn.execute(_COMPLETE_TASK, {"task_id": task_id, "at": at, "user": user, "values": dict(data)})
    inbox_index.remove(conn, [task_id])


def set_assignee(conn: Connection, task_id: str, assignee: str | None) -> None:
    """Set (or clear) the user holding an open task."""
    conn.execute(update(TASK).where(TASK.c.id == task_id).values(assignee=assignee))
    inbox_index.reassign(conn, task_id, assignee)


def open_tasks_of_instance(conn: Connection, instance_id: int) -> dict[str, Mapping[str, Any]]:
    """Return an instance's READY task rows by id."""
    return {row.id: _mapping(row) for row in conn.execute(_OPEN_OF_INSTANCE, {"instance_id": instance_id})}


def open_order(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """Sort key of open tasks: soonest due first (undated last), then oldest."""
    due = row["due_at"]
    return (due is None, due or row["created_at"], row["created_at"], row["id"])


def cancel_tasks(conn: Connection, task_ids: Sequence[str], at: datetime) -> None:
    """Mark READY tasks whose workflow task went away as cancelled."""
    if task_ids:
        conn.execute(update(TASK).where(TASK.c.id.in_(task_ids), TASK.c.state == READY)
                     .values(state=CANCELLED, completed_at=at))
        inbox_index.remove(conn, task_ids)


def insert_tasks(conn: Connection, rows: Sequence[Mapping[str, Any]], instance_status: str) -> None:
    """Insert new READY human tasks with their candidate-group rows, filed in the inbox index while
    their case (in `instance_status`) is open."""
    if not rows:
        return
    conn.execute(_INSERT_TASK, [dict(r) for r in rows])
    groups = [{"task_id": r["id"], "group_code": g} for r in rows for g in r["candidate_groups"]]
    if groups:
        conn.execute(_INSERT_GROUP, groups)
    inbox_index.add(conn, instance_status, rows)


_INSERTS: dict[str, Any] = {}


def insert_rows(conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert rows into `table` in one executemany (nothing when empty)."""
    values = [dict(r) for r in rows]
    if values:
        statement = _INSERTS.get(table.name)
        if statement is None:
            statement = _INSERTS.setdefault(table.name, insert(table))
        conn.execute(statement, values)


def insert_events(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append entries to cases' event logs (the one place they are written), each logged as an engine action."""
    values = [dict(r) for r in rows]
    insert_rows(conn, EVENT, values)
    for row in values:
        logs.engine_action("case_event", row["type"], row["actor"], row["case_no"], task=row.get("task_name"))


def open_tasks(conn: Connection, case_no: str | None = None,
               group: str | None = None) -> list[Mapping[str, Any]]:
    """Return READY task rows, optionally of one case and/or one candidate group, soonest due first."""
    if case_no and not group:
        return [_mapping(r) for r in conn.execute(_OPEN_OF_CASE, {"case_no": case_no})]
    query = select(*TASK_COLUMNS).where(TASK.c.state == READY)
    if case_no:
        query = query.where(TASK.c.case_no == case_no)
    if group:
        query = query.where(TASK.c.id.in_(select(TASK_GROUP.c.task_id).where(TASK_GROUP.c.group_code == group)))
    return [_mapping(r) for r in conn.execute(query.order_by(*_OPEN_ORDER))]


def events_of_case(conn: Connection, case_no: str) -> list[Row[Any]]:
    """Return a case's event log in order."""
    return list(conn.execute(select(EVENT).where(EVENT.c.case_no == case_no).order_by(EVENT.c.id)))


def task_of_open_case() -> ColumnElement[bool]:
    """SQL on human_task: its case is running (a suspended or errored case's tasks wait with it)."""
    return exists(select(INSTANCE.c.id).where(INSTANCE.c.id == TASK.c.instance_id, INSTANCE.c.status == OPEN))


def case_worked(conn: Connection, case_no: str) -> bool:
    """True once someone completed a task of the case (受理中 → 办理中 for the applicant and 12345)."""
    return conn.execute(select(TASK.c.id).where(TASK.c.case_no == case_no, TASK.c.state == COMPLETED)
                        .limit(1)).first() is not None
