"""Where a chart's figures come from: the tally (`fact_tally`) when it holds the cases asked for, else the fact rows.

Each chart asks `read(conn, source, dim)` for one dimension (`facts.tally_of`'s: status, channel, level, hour,
handling, region, matter; 分部门 `read_departments` for dept and dept_days, one read of the fact rows for both)
and gets `Figures`: per (day or None, code, sub) the measures. A
`Source` says where they come from:

- the tally's slice (the county; one township, channel, level, department, the green channel or a 好差评
  level; the codes of a compound slice — matters together, status and level, a department and a status, a
  township and a channel … — that a filter's fields accept, `slice_codes`) over the filter's days, when one
  slice stands for the fields the filter names (`charts.SLICES`);
- else the fact rows under the scope and the filter (`where`), grouped by the same dimension;
- for a scope of a slice (a township's field staff, a department: `scoping.fact_scope`), its slice read as
  the county's narrowed to it — from the tally, or else the fact rows of `cases` — and beside it the fact
  rows of the few other cases the scope reaches (`rest`: registered at the window for elsewhere, assigned).

Both sum into the same shape, so a chart has one implementation and the two paths agree (a test compares
every chart both ways).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, false, func, literal, select, true

from engine.dashboard import facts
from engine.tables import CASE_FACT, CASE_FACT_MATTER, DEPT_FACT, FACT_TALLY

CF, CFM, DF, TALLY = CASE_FACT, CASE_FACT_MATTER, DEPT_FACT, FACT_TALLY
Measures = list[int]
LATE_BATCH = 1000  # case numbers per statement (SQLite's bound parameters)


@dataclass(frozen=True)
class Slice:
    """A slice of the tally over a period: its kind and codes (`facts`' COUNTY … RATING_SLICE; a status filter
    names several statuses, each case has one), its days."""

    kind: str
    codes: tuple[str, ...]
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Source:
    """Where one chart reads: a tally slice or the fact rows of `cases` (None: of `where`), and beside either
    the fact rows of `rest`.

    `where` is always the whole predicate on case_fact (scope and filter): the few rows read beside the
    tally (a department's open tasks past due and not yet flagged) use it. `cases`: the scope's slice under
    the filter, when no tally slice holds it. `rest`: the scope's cases beyond its slice, under the filter.
    `groups`: the departments 分部门 shows (None: every one)."""

    where: ColumnElement[bool]
    tally: Slice | None = None
    rest: ColumnElement[bool] | None = None
    groups: tuple[str, ...] | None = None
    narrowed: bool = True  # False: the county unfiltered (the fact rows need no join to case_fact)
    cases: ColumnElement[bool] | None = None

    @property
    def rows(self) -> ColumnElement[bool]:
        """What the fact rows are read for in place of the tally."""
        return self.where if self.cases is None else self.cases


class Figures(dict[tuple[Any, str, str], Measures]):
    """Per (day or None, code, sub) the measures (`facts.MEASURES`), summed from every part of a source."""

    def add(self, key: tuple[Any, str, str], values: Iterable[Any]) -> None:
        target = self.setdefault(key, [0] * len(facts.MEASURES))
        for i, value in enumerate(values):
            target[i] += int(value or 0)

    def by(self, part: int) -> dict[Any, Measures]:
        """The measures summed per day (0), code (1) or sub (2)."""
        found: dict[Any, Measures] = defaultdict(lambda: [0] * len(facts.MEASURES))
        for key, values in self.items():
            target = found[key[part]]
            for i, value in enumerate(values):
                target[i] += value
        return dict(found)


def read(conn: Connection, source: Source, dim: str, by_day: bool = False) -> Figures:
    """One dimension's figures for a chart (per day too when `by_day`)."""
    figures = Figures()
    if source.tally is None:
        _rows(conn, figures, dim, source.rows, source, by_day)
    else:
        _tally(conn, figures, dim, source.tally, by_day)
    if source.rest is not None:
        _rows(conn, figures, dim, source.rest, replace(source, narrowed=True), by_day)
    return figures


def read_departments(conn: Connection, source: Source) -> tuple[Figures, Figures]:
    """分部门's two dimensions (dept, dept_days) at once: from the fact rows one read gives both."""
    dept, days = Figures(), Figures()
    if source.tally is None:
        _dept_rows(conn, dept, days, source.rows, source)
    else:
        _tally(conn, dept, "dept", source.tally, False)
        _tally(conn, days, "dept_days", source.tally, False)
    if source.rest is not None:
        _dept_rows(conn, dept, days, source.rest, replace(source, narrowed=True))
    return dept, days


def _dept_rows(conn: Connection, dept: Figures, days: Figures, where: ColumnElement[bool], source: Source) -> None:
    """The dept and dept_days figures (`facts._group_dims`' rules) from one GROUP BY of the groups' rows."""
    # per whole day, not hour: a few hundred groups instead of nearly one per row
    keys = [DF.c.group_code, DF.c.done, DF.c.overdue, facts.handling_days_clause(DF.c.handling_hours)]
    shown = DF.c.group_code.in_(source.groups) if source.groups is not None else true()
    table = DF.join(CF, CF.c.case_no == DF.c.case_no) if source.narrowed else DF
    query = select(*keys, func.count(), func.sum(DF.c.handling_seconds)).select_from(table).where(
        where if source.narrowed else true(), shown).group_by(*keys)
    for row in conn.execute(query):
        code, done, n = str(row[0]), bool(row[1]), int(row[4])
        dept.add((None, code, ""), [n, 0, 0, n if done else 0, n if row[2] else 0, (row[5] or 0) if done else 0])
        if done and row[3] is not None:
            days.add((None, code, str(int(row[3]))), [n])


def _tally(conn: Connection, figures: Figures, dim: str, part: Slice, by_day: bool) -> None:
    day = TALLY.c.day if by_day else literal(None)
    keys = [TALLY.c.day] if by_day else []
    query = select(day, TALLY.c.code, TALLY.c.sub, *(func.sum(TALLY.c[m]) for m in facts.MEASURES)).where(
        TALLY.c.slice == part.kind, TALLY.c.slice_code.in_(part.codes), TALLY.c.dim == dim,
        *([TALLY.c.day >= part.date_from] if part.date_from else []),
        *([TALLY.c.day <= part.date_to] if part.date_to else [])).group_by(*keys, TALLY.c.code, TALLY.c.sub)
    for row in conn.execute(query):
        if row[3]:  # no rows counted: a key a delta brought back to zero (a rebuild drops them)
            figures.add((row[0], row[1], row[2]), row[3:])


def slice_codes(conn: Connection, kind: str) -> list[str]:
    """Every code the tally holds for a slice kind (a few dozen matter combinations or statuses and levels),
    one index probe each: a recursive query steps from each code to the next (a loose index scan)."""
    first = select(TALLY.c.slice_code.label("code")).where(TALLY.c.slice == kind).order_by(
        TALLY.c.slice_code).limit(1).subquery()
    codes = select(first.c.code).cte("codes", recursive=True)
    following = select(TALLY.c.slice_code).where(TALLY.c.slice == kind, TALLY.c.slice_code > codes.c.code).order_by(
        TALLY.c.slice_code).limit(1).scalar_subquery()
    codes = codes.union_all(select(following).where(codes.c.code.is_not(None)))
    return [code for code in conn.execute(select(codes.c.code)).scalars() if code is not None]


def _count(column: ColumnElement[Any]) -> ColumnElement[int]:
    return func.sum(case((column, 1), else_=0))


def _rows(conn: Connection, figures: Figures, dim: str, where: ColumnElement[bool], source: Source,
          by_day: bool) -> None:
    """The same figures from the fact rows under `where` (`facts.tally_of`'s rules said in SQL)."""
    ended = _count(CF.c.ended_at.is_not(None))
    one = func.count()
    zero = literal(0)
    table: Any = CF
    code: ColumnElement[Any] | None = None
    sub: ColumnElement[Any] | None = None
    measures: list[ColumnElement[Any]] = [one]
    extra: ColumnElement[bool] = true()
    if dim == "status":
        code, measures = CF.c.status, [one, ended, func.sum(CF.c.amount)]
    elif dim in ("channel", "level"):
        code, sub = CF.c[dim], CF.c.status
    elif dim == "hour":
        code = CF.c.hour
    elif dim == "handling":
        code, extra = CF.c.handling_hours, CF.c.handling_hours.is_not(None)
    elif dim == "region":
        code, sub, measures = CF.c.township, CF.c.village, [one, ended]
    elif dim == "matter":
        table, code, measures = CFM, CFM.c.matter, [one, zero, func.sum(CFM.c.amount)]
    else:  # dept and dept_days: `read_departments`
        raise ValueError(dim)
    assert code is not None
    joined = table is not CF and (source.narrowed or by_day)
    keys = [c for c in (CF.c.day if by_day else None, code, sub) if c is not None]
    query = select(*keys, *measures).select_from(table.join(CF, CF.c.case_no == table.c.case_no) if joined else table)
    query = query.where(where if table is CF or joined else true(), extra).group_by(*keys)
    for row in conn.execute(query):
        values = list(row)
        day = values.pop(0) if by_day else None
        key_code = values.pop(0)
        key_sub = values.pop(0) if sub is not None else ""
        amounts = list(values) + [0] * (len(facts.MEASURES) - len(values))
        if dim in ("status", "matter"):
            amounts[2] = facts.cents(float(amounts[2] or 0))
        figures.add((day, *_normal(dim, key_code, key_sub)), amounts)


def _normal(dim: str, code: Any, sub: Any) -> tuple[str, str]:
    """A fact row's code and sub as the tally keys them."""
    if dim == "handling":
        return str(facts.handling_bucket(int(code))), ""
    return str(code), "" if sub is None else str(sub)


def late_unflagged(conn: Connection, source: Source, now: Any) -> dict[str, int]:
    """Per group, its open tasks past due that the deadline job has not flagged yet (the tally counts a
    group late once flagged; until then it is late by its due time alone)."""
    late = and_(DF.c.overdue == false(), DF.c.open_due_at < now,  # `=`, not IS: ix_dept_fact_late reads it
                DF.c.group_code.in_(source.groups) if source.groups is not None else true())
    # First the county's few such rows by their index alone, then which of their cases are asked for: a
    # planner that guesses thousands of them would scan dept_fact in case order instead.
    case_nos = sorted(set(conn.execute(select(DF.c.case_no).where(late)).scalars()))
    found: dict[str, int] = defaultdict(int)
    for start in range(0, len(case_nos), LATE_BATCH):
        for code, n in conn.execute(select(DF.c.group_code, func.count()).select_from(
                DF.join(CF, CF.c.case_no == DF.c.case_no)).where(
                DF.c.case_no.in_(case_nos[start:start + LATE_BATCH]), late, source.where)
                .group_by(DF.c.group_code)):
            found[code] += int(n)
    return dict(found)
