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

The tally (`fact_tally`, `tally_of`): the fact rows summed per local day of registration, per slice (the
county; one township, channel, level or department; the green channel; a 好差评 level; a case's values
together — matters; status and level; matters and status; channel and level; matters and channel; a
department and a status, a channel, matters, or matters and a channel, once per department) and
per dimension a chart groups by. `refresh` keeps it as a delta — the case's old fact rows (deleted,
RETURNING them) subtracted, the new ones added, in one upsert of the keys that changed — so a county-wide
chart reads a few thousand tally rows instead of a million fact rows. `rebuild_tally` computes it from the
fact rows; the two agree (a test compares them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    null,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite

from engine import clock
from engine.status import COMPLETED, READY
from engine.tables import (
    APPLICATION,
    CASE_FACT,
    CASE_FACT_MATTER,
    DEPT_FACT,
    FACT_TALLY,
    INSTANCE,
    MATTER,
    ORGS,
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
_DELETES = [delete(t).where(t.c.case_no.in_(bindparam("case_nos", expanding=True))).returning(*t.c)
            for t in (CASE_FACT, CASE_FACT_MATTER, DEPT_FACT)]

# The tally's key and its measures (`fact_tally`).
KEY = ("slice", "slice_code", "day", "dim", "code", "sub")
MEASURES = ("n", "ended", "cents", "done", "late", "seconds")
# Slices: the county (""), and the one township, channel, level, department, green channel or first 好差评
# level a filter or a scope names; and the compound slices (COMPOUND), keyed by several of a case's values
# together (`slice_code`: the parts joined by "|"), so a filter of any of them is a union of their codes, each
# case in one. "matters" is the case's matters together ("dibao,tekun"): a matter, a 救助类型 (the catalog's,
# when the chart is read) or both.
COUNTY, TOWNSHIP, CHANNEL, DEPARTMENT = "", "township", "channel", "department"
LEVEL, GREEN, RATING_SLICE = "level", "green", "rating"
MATTERS, STATUS, MATTERS_STATUS, CHANNEL_LEVEL = "matters", "status_level", "matters_status", "channel_level"
MATTERS_CHANNEL, DEPARTMENT_STATUS, DEPARTMENT_CHANNEL = "matters_channel", "department_status", "department_channel"
DEPARTMENT_MATTERS, DEPARTMENT_MATTERS_CHANNEL = "department_matters", "dept_matters_channel"
TOWNSHIP_MATTERS, TOWNSHIP_CHANNEL = "township_matters", "township_channel"
COMPOUND: dict[str, tuple[str, ...]] = {
    MATTERS: ("matters",), STATUS: ("status", "level"), MATTERS_STATUS: ("matters", "status"),
    CHANNEL_LEVEL: ("channel", "level"), MATTERS_CHANNEL: ("matters", "channel"),
    DEPARTMENT_STATUS: ("department", "status"), DEPARTMENT_CHANNEL: ("department", "channel"),
    DEPARTMENT_MATTERS: ("department", "matters"), DEPARTMENT_MATTERS_CHANNEL: ("department", "matters", "channel"),
    TOWNSHIP_MATTERS: ("township", "matters"), TOWNSHIP_CHANNEL: ("township", "channel")}
# A compound slice with a department among its fields holds a case once per department that handled it, with
# that department's own 分部门 rows (as the department slice does).
# The compound slices of a case with matters (True) or without (False: in no slice of matters), per case and
# per department.
_COMPOUND_KINDS = {has_matters: tuple([kind for kind, fields in COMPOUND.items()
                                       if ("department" in fields) is per_department
                                       and (has_matters or "matters" not in fields)]
                                      for per_department in (False, True))
                   for has_matters in (False, True)}
MATTER_SEPARATOR, PART_SEPARATOR = ",", "|"  # neither is in a matter, status, level or channel code
# Groups that are no department on the dashboard (分部门): the center and the regions' own windows.
REGIONAL_KINDS = ("center", "township", "village")
# 办理时长分布: upper bounds in days (the last bucket is open).
HANDLING_BUCKETS = [1, 3, 7, 15, 30, 60]
DAYS_CAP = 999  # 分部门's handling-time histogram in whole days, the last one open
Key = tuple[str, str, Any, str, str, str]


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


def _group_row(case_no: str, township: str, code: str, tasks: list[Mapping[str, Any]],
               amount: float) -> dict[str, Any]:
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
    return {"case_no": case_no, "group_code": code, "township": township, "received_at": received, "done": done,
            "overdue": late, "open_due_at": min(dues) if dues else None, "handling_seconds": seconds,
            "handling_hours": _hours(seconds), "amount": amount}


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


def _matter_rows(case_no: str, township: str, matters: Iterable[Any], departments: Mapping[str, str],
                 amounts: Mapping[str, float]) -> list[dict[str, Any]]:
    """A case's matters; a department's amount goes to the first of its matters the case names."""
    rows: list[dict[str, Any]] = []
    paid: set[str] = set()
    for code in dict.fromkeys(str(m) for m in matters or [] if m not in (None, "")):
        department = departments.get(code, "")
        amount = amounts.get(department, 0.0) if department not in paid else 0.0
        paid.add(department)
        rows.append({"case_no": case_no, "matter": code, "township": township, "amount": amount})
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
        found.matters += _matter_rows(case_no, app["township"], app["matters"], departments,
                                      group_amounts[case_no])
        found.groups += [_group_row(case_no, app["township"], code, rows, group_amounts[case_no].get(code, 0.0))
                         for code, rows in tasks[case_no].items()]
    return found


def handling_bucket(hours: int) -> int:
    """The 办理时长分布 bucket of a handling time in whole hours (an index into HANDLING_BUCKETS, or past it)."""
    return next((i for i, bound in enumerate(HANDLING_BUCKETS) if hours < bound * 24), len(HANDLING_BUCKETS))


def handling_days(hours: int) -> int:
    """A department's handling time in whole days, for its 90th percentile (capped)."""
    return min(int(hours) // 24, DAYS_CAP)


def handling_days_clause(hours: ColumnElement[Any]) -> ColumnElement[Any]:
    """`handling_days` in SQL, over a column of whole hours."""
    return case((hours >= DAYS_CAP * 24, DAYS_CAP), else_=hours // 24)


def cents(amount: float | None) -> int:
    """An amount in 元 as whole 分 (sums of them do not drift)."""
    return round((amount or 0) * 100)


def matters_code(matters: Iterable[str]) -> str:
    """A case's matters together, as a compound slice code holds them (sorted, each once); "" for none."""
    return MATTER_SEPARATOR.join(sorted(set(matters)))


def compound_code(kind: str, values: Mapping[str, str]) -> str:
    """A compound slice's code of a case's values (`COMPOUND[kind]`'s fields)."""
    return PART_SEPARATOR.join(values[name] or "" for name in COMPOUND[kind])


def code_parts(kind: str, code: str) -> dict[str, str]:
    """A compound slice code's values by field (the inverse of `compound_code`)."""
    fields = COMPOUND[kind]
    parts = code.split(PART_SEPARATOR, len(fields) - 1)
    return dict(zip(fields, parts + [""] * (len(fields) - len(parts)), strict=True))


def regional_groups(conn: Connection) -> set[str]:
    """The group codes that are no department on the dashboard (the center, townships, villages)."""
    return set(conn.execute(select(ORGS.c.code).where(ORGS.c.kind.in_(REGIONAL_KINDS))).scalars())


def _measures(n: int = 1, ended: int = 0, amount: int = 0, done: int = 0, late: int = 0,
              seconds: int = 0) -> tuple[int, ...]:
    return n, ended, amount, done, late, seconds


def _group_dims(group: Mapping[str, Any]) -> list[tuple[str, str, str, tuple[int, ...]]]:
    code, done = group["group_code"], bool(group["done"])
    dims = [("dept", code, "", _measures(done=int(done), late=int(bool(group["overdue"])),
                                          seconds=int(group["handling_seconds"] or 0) if done else 0))]
    if done and group["handling_hours"] is not None:
        dims.append(("dept_days", code, str(handling_days(group["handling_hours"])), _measures()))
    return dims


def tally_of(rows: FactRows, regional: set[str]) -> dict[Key, list[int]]:
    """The tally of these fact rows: per (slice, slice code, day, dimension, code, sub) the measures."""
    matters: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for matter in rows.matters:
        matters[matter["case_no"]].append(matter)
    for group in rows.groups:
        if group["group_code"] not in regional:
            groups[group["case_no"]].append(group)
    found: dict[Key, list[int]] = {}
    for row in rows.cases:
        case_no, status = row["case_no"], row["status"]
        ended = int(row["ended_at"] is not None)
        dims = [("status", status, "", _measures(ended=ended, amount=cents(row["amount"]))),
                ("channel", row["channel"], status, _measures()), ("level", row["level"], status, _measures()),
                ("hour", str(row["hour"]), "", _measures()),
                ("region", row["township"], row["village"] or "", _measures(ended=ended))]
        if row["handling_hours"] is not None:
            dims.append(("handling", str(handling_bucket(row["handling_hours"])), "", _measures()))
        dims += [("matter", m["matter"], "", _measures(amount=cents(m["amount"]))) for m in matters[case_no]]
        by_group = {g["group_code"]: _group_dims(g) for g in groups[case_no]}
        every_group = [dim for found_dims in by_group.values() for dim in found_dims]
        values = {"matters": matters_code(m["matter"] for m in matters[case_no]), "status": status,
                  "level": row["level"], "channel": row["channel"], "township": row["township"]}
        by_case, by_department = _COMPOUND_KINDS[bool(values["matters"])]
        slices = [(COUNTY, "", every_group), (TOWNSHIP, row["township"], every_group),
                  (CHANNEL, row["channel"], every_group), (LEVEL, row["level"], every_group),
                  *([(GREEN, "1", every_group)] if row["green"] else []),
                  *([(RATING_SLICE, row["rating"], every_group)] if row["rating"] else []),
                  *((kind, compound_code(kind, values), every_group) for kind in by_case),
                  *((DEPARTMENT, code, own) for code, own in by_group.items()),  # a department: its own row
                  *((kind, compound_code(kind, {**values, "department": code}), own)
                    for code, own in by_group.items() for kind in by_department)]
        day = row["day"]
        for slice_name, slice_code, group_dims in slices:
            for dim, code, sub, m in (*dims, *group_dims):
                key = (slice_name, slice_code, day, dim, code, sub)
                target = found.get(key)
                if target is None:
                    found[key] = list(m)
                else:  # unrolled: this loop runs some sixty times a case in a rebuild
                    target[0] += m[0]
                    target[1] += m[1]
                    target[2] += m[2]
                    target[3] += m[3]
                    target[4] += m[4]
                    target[5] += m[5]
    return found


def _upsert(conn: Connection) -> Any:
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[conn.dialect.name]
    statement = dialect.insert(FACT_TALLY)
    return statement.on_conflict_do_update(index_elements=list(KEY), set_={
        m: FACT_TALLY.c[m] + statement.excluded[m] for m in MEASURES})


def _primary_key_order(key: Sequence[Any]) -> tuple[Any, ...]:
    """A tally key (KEY order) as fact_tally's primary key orders it: slice, slice code, dim, day, code, sub.
    Writes in this order: two transactions lock the rows they share in the same order (no deadlock), and a
    rebuild appends to the index instead of inserting all over it."""
    return key[0], key[1], key[3], key[2], key[4], key[5]


def _tally_rows(tally: Mapping[Key, list[int]]) -> list[dict[str, Any]]:
    return [{**dict(zip(KEY, key, strict=True)), **dict(zip(MEASURES, values, strict=True))}
            for key, values in sorted(tally.items(), key=lambda item: _primary_key_order(item[0]))]


def add_to_tally(conn: Connection, new: FactRows, old: FactRows) -> int:
    """Add the new rows' tally and subtract the old rows' (only the keys that changed); return the keys."""
    regional = regional_groups(conn)
    delta = tally_of(new, regional)
    for key, values in tally_of(old, regional).items():
        target = delta.setdefault(key, [0] * len(MEASURES))
        for i, value in enumerate(values):
            target[i] -= value
    changed = {key: values for key, values in delta.items() if any(values)}
    if changed:
        conn.execute(_upsert(conn), _tally_rows(changed))
    return len(changed)


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
    old = FactRows()
    for statement, found in zip(_DELETES, (old.cases, old.matters, old.groups), strict=True):
        found += [dict(r._mapping) for r in conn.execute(statement, {"case_nos": wanted})]
    write(conn, rows)
    add_to_tally(conn, rows, old)


def rebuild_all(conn: Connection, batch: int = BATCH) -> int:
    """Rewrite every case's fact rows and the tally from the base tables (a repair); return the cases."""
    total = rebuild_case_facts(conn, batch)
    rebuild_tally(conn, batch)
    return total


def bulk_insert_tally(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert new tally rows (KEY then MEASURES) by the driver itself — COPY on PostgreSQL, executemany on
    SQLite — a rebuild writes millions of them, which SQLAlchemy's per-row parameters would slow threefold."""
    columns = ", ".join((*KEY, *MEASURES))
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor().copy(f"COPY {FACT_TALLY.name} ({columns}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * (len(KEY) + len(MEASURES)))
    raw.cursor().executemany(  # type: ignore[union-attr]
        f"INSERT INTO {FACT_TALLY.name} ({columns}) VALUES ({marks})",
        [(row[0], row[1], row[2].isoformat(), *row[3:]) for row in rows])


def rebuild_tally(conn: Connection, batch: int = BATCH) -> int:
    """Rewrite the tally from the fact rows, whole days at a time (about `batch` cases); return its rows."""
    conn.execute(delete(FACT_TALLY))
    regional, written = regional_groups(conn), 0
    days = list(conn.execute(select(CASE_FACT.c.day, func.count()).group_by(CASE_FACT.c.day).order_by(CASE_FACT.c.day)))
    while days:
        taken, count = 0, 0
        while taken < len(days) and (count < batch or not taken):
            count += int(days[taken][1])
            taken += 1
        first, last = days[0][0], days[taken - 1][0]
        days = days[taken:]
        rows = FactRows(cases=[dict(r._mapping) for r in conn.execute(
            select(CASE_FACT).where(CASE_FACT.c.day.between(first, last)))])
        for table, found in ((CASE_FACT_MATTER, rows.matters), (DEPT_FACT, rows.groups)):
            found += [dict(r._mapping) for r in conn.execute(select(table).join(
                CASE_FACT, CASE_FACT.c.case_no == table.c.case_no).where(CASE_FACT.c.day.between(first, last)))]
        tally = tally_of(rows, regional)
        bulk_insert_tally(conn, sorted(((*key, *values) for key, values in tally.items()), key=_primary_key_order))
        written += len(tally)
    return written


def rebuild_case_facts(conn: Connection, batch: int = BATCH) -> int:
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
