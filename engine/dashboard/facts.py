"""The dashboard's fact rows (`case_fact`, `case_fact_matter`, `dept_fact`), kept in step with the cases.

One function computes the rows of a set of cases from the base tables (`application`, `process_instance`,
`human_task` + `human_task_group`, `rating`, `matter`): `refresh` writes them for the cases a transaction
changed, `rebuild_all` for every case (the migration, `relief dashboard rebuild`). Both go through
`rows_of`, so a rebuild gives the same rows as the steps that wrote them.

`engine.cases.store.save_instance` — the one place a case's status and tasks are stored, at the end of
every step, suspension, resumption, termination and migration — refreshes the case's rows; a first 好差评
refreshes its case's too (`engine.feedback.ratings`). Nothing else those rows hold changes elsewhere: the
deadline job's overdue flag is only set on an open task already past its due time, which `open_due_at`
already says.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, and_, bindparam, case, delete, func, insert, null, select, type_coerce

from engine import clock
from engine.status import COMPLETED, READY
from engine.tables import (
    APPLICATION,
    CASE_FACT,
    CASE_FACT_MATTER,
    DEPT_FACT,
    INSTANCE,
    MATTER,
    RATING,
    TASK,
    TASK_GROUP,
)

RESULT_FORM = "dept_result"  # 办结反馈: the department's result, with its 救助金额 (`amount`)
BATCH = 2000

_CASES = select(APPLICATION.c.case_no, APPLICATION.c.created_at, APPLICATION.c.channel, APPLICATION.c.level,
                APPLICATION.c.township, APPLICATION.c.village, APPLICATION.c.registered_org,
                APPLICATION.c.green_channel, APPLICATION.c.matters, INSTANCE.c.status, INSTANCE.c.ended_at).join(
    INSTANCE, INSTANCE.c.case_no == APPLICATION.c.case_no).where(
    APPLICATION.c.case_no.in_(bindparam("case_nos", expanding=True)))
# One read of a case's tasks with their groups; a result's data (its amount) only for completed 办结反馈.
_RESULT_DATA = type_coerce(case((and_(TASK.c.form_key == RESULT_FORM, TASK.c.state == COMPLETED), TASK.c.data),
                                else_=null()), JSON)
_TASKS = select(TASK.c.case_no, TASK.c.id, TASK_GROUP.c.group_code, TASK.c.state, TASK.c.created_at,
                TASK.c.completed_at, TASK.c.due_at, TASK.c.overdue_since, _RESULT_DATA.label("result")).join(
    TASK_GROUP, TASK_GROUP.c.task_id == TASK.c.id).where(TASK.c.case_no.in_(bindparam("case_nos", expanding=True)))
_RATINGS = select(RATING.c.case_no, RATING.c.level).where(
    RATING.c.case_no.in_(bindparam("case_nos", expanding=True)), RATING.c.follow_up.is_(False))
_DELETES = [delete(t).where(t.c.case_no.in_(bindparam("case_nos", expanding=True)))
            for t in (CASE_FACT, CASE_FACT_MATTER, DEPT_FACT)]


@dataclass
class FactRows:
    """The rows of the three fact tables for some cases."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    matters: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)


def amount_of(data: Any) -> float:
    """The 救助金额 a department's result names (0 when none, or not a number)."""
    value = data.get("amount") if isinstance(data, Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else 0.0


def _seconds(start: datetime, end: datetime | None) -> int | None:
    return None if end is None else max(0, int((clock.aware(end) - clock.aware(start)).total_seconds()))


def _hours(seconds: int | None) -> int | None:
    return None if seconds is None else seconds // 3600


def _group_row(case_no: str, code: str, tasks: list[Mapping[str, Any]], amount: float) -> dict[str, Any]:
    still_open = [t for t in tasks if t["state"] == READY]
    completed = [clock.aware(t["completed_at"]) for t in tasks if t["state"] == COMPLETED and t["completed_at"]]
    received = min(clock.aware(t["created_at"]) for t in tasks)
    done = not still_open and bool(completed)
    seconds = _seconds(received, max(completed)) if done else None
    # went_overdue_clause (engine.deadlines.due) row by row: flagged, or ended (done or cancelled) after its due
    late = any(t["overdue_since"] is not None or (t["completed_at"] is not None and t["due_at"] is not None
                                                   and clock.aware(t["completed_at"]) > clock.aware(t["due_at"]))
               for t in tasks)
    dues = [clock.aware(t["due_at"]) for t in still_open if t["due_at"] is not None]
    return {"case_no": case_no, "group_code": code, "received_at": received, "done": done, "overdue": late,
            "open_due_at": min(dues) if dues else None, "handling_seconds": seconds, "handling_hours": _hours(seconds),
            "amount": amount}


def _case_row(app: Mapping[str, Any], amount: float, rating: str | None) -> dict[str, Any]:
    registered = clock.aware(app["created_at"])
    local = registered.astimezone(clock.LOCAL_TZ)
    seconds = _seconds(registered, app["ended_at"])
    return {"case_no": app["case_no"], "registered_at": registered, "day": local.date(),
            "month": local.strftime("%Y-%m"), "weekday": local.weekday(), "hour": local.hour,
            "channel": app["channel"], "level": app["level"], "township": app["township"], "village": app["village"],
            "registered_org": app["registered_org"], "green": bool(app["green_channel"]), "status": app["status"],
            "ended_at": app["ended_at"], "handling_seconds": seconds, "handling_hours": _hours(seconds),
            "amount": amount, "rating": rating}


def _matter_rows(case_no: str, matters: Iterable[Any], departments: Mapping[str, str],
                 amounts: Mapping[str, float]) -> list[dict[str, Any]]:
    """A case's matters; a department's amount goes to the first of its matters the case names."""
    rows: list[dict[str, Any]] = []
    paid: set[str] = set()
    for code in dict.fromkeys(str(m) for m in matters or [] if m not in (None, "")):
        department = departments.get(code, "")
        amount = amounts.get(department, 0.0) if department not in paid else 0.0
        paid.add(department)
        rows.append({"case_no": case_no, "matter": code, "amount": amount})
    return rows


def rows_of(conn: Connection, case_nos: Sequence[str]) -> FactRows:
    """The fact rows of these cases as the base tables say now (cases without an application have none)."""
    wanted = {"case_nos": list(case_nos)}
    apps = [dict(r._mapping) for r in conn.execute(_CASES, wanted)]
    found = FactRows()
    if not apps:
        return found
    wanted = {"case_nos": [a["case_no"] for a in apps]}
    tasks: dict[str, dict[str, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    group_amounts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    case_amounts: dict[str, dict[str, float]] = defaultdict(dict)
    for row in conn.execute(_TASKS, wanted):
        tasks[row.case_no][row.group_code].append(dict(row._mapping))
        if row.result is not None:
            group_amounts[row.case_no][row.group_code] += amount_of(row.result)
            case_amounts[row.case_no][row.id] = amount_of(row.result)  # a task counts once, whatever its groups
    ratings = {r.case_no: r.level for r in conn.execute(_RATINGS, wanted)}
    departments = {r.code: r.department for r in conn.execute(select(MATTER.c.code, MATTER.c.department))}
    for app in apps:
        case_no = app["case_no"]
        found.cases.append(_case_row(app, sum(case_amounts[case_no].values()), ratings.get(case_no)))
        found.matters += _matter_rows(case_no, app["matters"], departments, group_amounts[case_no])
        found.groups += [_group_row(case_no, code, rows, group_amounts[case_no].get(code, 0.0))
                         for code, rows in tasks[case_no].items()]
    return found


def write(conn: Connection, rows: FactRows) -> None:
    """Insert fact rows (their cases' old rows already deleted)."""
    for table, values in ((CASE_FACT, rows.cases), (CASE_FACT_MATTER, rows.matters), (DEPT_FACT, rows.groups)):
        if values:
            conn.execute(insert(table), values)


def refresh(conn: Connection, case_nos: Iterable[str]) -> None:
    """Rewrite the fact rows of these cases from the base tables, in the caller's transaction."""
    wanted = sorted(set(case_nos))
    if not wanted:
        return
    rows = rows_of(conn, wanted)
    for statement in _DELETES:
        conn.execute(statement, {"case_nos": wanted})
    write(conn, rows)


def rebuild_all(conn: Connection, batch: int = BATCH) -> int:
    """Rewrite every case's fact rows from the base tables (a backfill or a repair); return the cases."""
    for table in (CASE_FACT, CASE_FACT_MATTER, DEPT_FACT):
        conn.execute(delete(table))
    total, after = 0, ""
    while True:
        case_nos = list(conn.execute(select(APPLICATION.c.case_no).where(APPLICATION.c.case_no > after)
                                     .order_by(APPLICATION.c.case_no).limit(batch)).scalars())
        if not case_nos:
            return total
        rows = rows_of(conn, case_nos)
        write(conn, rows)
        total += len(rows.cases)
        after = case_nos[-1]


def fact_count(conn: Connection) -> int:
    """How many cases have a fact row."""
    return int(conn.execute(select(func.count()).select_from(CASE_FACT)).scalar_one())
