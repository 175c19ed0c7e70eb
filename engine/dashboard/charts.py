"""The dashboard's charts (数据汇聚展示, R-6.4.1): each reads one or two dimensions (`tally.read`) and lays them out.

Every chart is a `Table`: named columns and rows of cells, which the page draws (ECharts), shows as a
table beside the chart and offers as CSV. A row (and a column) may say how it narrows the case filter
(`narrow`: CaseFilter fields), which the page turns into its click-through to the case list.

The case filter's fields become SQL over `case_fact` here (`fact_clause`), as `case_query.filter_clause`
does over the base tables; 超期, 待补正 and the text search are not dashboard filters. `source` decides
whether a chart reads the tally or the fact rows (`tally.Source`); the chart is the same either way.
"""

from __future__ import annotations

import calendar as month_calendar
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, select, true

from engine import status
from engine.cases.case_query import FILTER_FIELDS, SUPPLEMENT, CaseFilter, channel_choices, level_choices
from engine.dashboard import facts, tally
from engine.dashboard.facts import HANDLING_BUCKETS
from engine.dashboard.tally import Source
from engine.i18n import _l
from engine.reference import ReferenceData
from engine.tables import CASE_FACT, CASE_FACT_MATTER, DEPT_FACT, ORGS

CF, CFM, DF = CASE_FACT, CASE_FACT_MATTER, DEPT_FACT
NOT_FILTERS = {"overdue": _l("数据看板不按“超期”筛选"), "q": _l("数据看板不按文本筛选")}
# Outcome series (业务量): the 状态 filter's key each links to (None: several statuses, no link).
OUTCOMES: list[tuple[str, Any, str | None, tuple[str, ...]]] = [
    ("open", _l("办理中"), "running", (status.OPEN,)),
    ("completed", _l("办结"), "completed", (status.CLOSED_COMPLETED,)),
    ("declined", _l("不予受理"), "declined", (status.CLOSED_DECLINED,)),
    ("other", _l("挂起/出错/终止"), None, (status.SUSPENDED, status.ERROR, status.TERMINATED)),
]
WEEKDAYS = [_l("周一"), _l("周二"), _l("周三"), _l("周四"), _l("周五"), _l("周六"), _l("周日")]


@dataclass
class Query:
    """What one chart reads: where its figures come from (`tally.Source`), the filter, the moment, the reference."""

    case_filter: CaseFilter
    source: Source
    reference: ReferenceData
    now: datetime
    by: str = ""
    names: Callable[[Iterable[str]], dict[str, str]] = lambda codes: {}


@dataclass
class Table:
    """One chart's figures: columns (key, label, optional narrowing) and rows (cells, optional narrowing)."""

    name: str
    title: str
    kind: str  # bar, stacked, line, treemap, figures
    columns: list[dict[str, Any]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def add(self, cells: list[Any], narrow: Mapping[str, Any] | None = None, **extra: Any) -> None:
        self.rows.append({"cells": cells, "narrow": dict(narrow or {}), **extra})


def _cases() -> dict[str, Any]:
    return {"key": "cases", "label": str(_l("案件数")), "chart": True}


def unsupported(case_filter: CaseFilter) -> dict[str, list[str]]:
    """The filter's fields the dashboard cannot apply, with why."""
    found = {key: [str(text)] for key, text in NOT_FILTERS.items() if getattr(case_filter, key)}
    if case_filter.status == SUPPLEMENT:
        found["status"] = [str(_l("数据看板不按“待补正”筛选"))]
    return found


def _statuses(f: CaseFilter) -> tuple[str, ...]:
    return status.filter_statuses(f.status) or ("",)  # an unknown key: no case


def fact_clause(f: CaseFilter, reference: ReferenceData) -> ColumnElement[bool]:
    """SQL on case_fact: the cases the filter names (scope not included; fields of `NOT_FILTERS` ignored)."""
    clauses: list[ColumnElement[bool]] = []
    if f.date_from:
        clauses.append(CF.c.day >= f.date_from)
    if f.date_to:
        clauses.append(CF.c.day <= f.date_to)
    for key in ("township", "village", "channel", "level"):
        if getattr(f, key):
            clauses.append(CF.c[key] == getattr(f, key))
    if f.green:
        clauses.append(CF.c.green.is_(True))
    if f.status and f.status != SUPPLEMENT:
        clauses.append(CF.c.status.in_(_statuses(f)))
    if f.satisfaction:
        clauses.append(CF.c.rating == f.satisfaction)
    # a matter's, a 救助类型's or a department's cases: an index range, narrowed to the township asked for (the
    # fact rows carry the case's township)
    if f.assistance_type:
        codes = [c for c, m in reference.matters().items() if m.get("assistance_type") == f.assistance_type]
        clauses.append(CF.c.case_no.in_(select(CFM.c.case_no).where(CFM.c.matter.in_(codes or [""]),
                                                                    *_in_township(CFM, f))))
    if f.matter:
        clauses.append(CF.c.case_no.in_(select(CFM.c.case_no).where(CFM.c.matter == f.matter, *_in_township(CFM, f))))
    if f.department:
        clauses.append(CF.c.case_no.in_(select(DF.c.case_no).where(DF.c.group_code == f.department,
                                                                   *_in_township(DF, f))))
    return and_(true(), *clauses)


def _in_township(table: Any, f: CaseFilter) -> list[ColumnElement[bool]]:
    return [table.c.township == f.township] if f.township else []


N, ENDED, CENTS, DONE, LATE, SECONDS = range(6)  # the measures' places (`facts.MEASURES`)


def _outcomes(conn: Connection, q: Query, dim: str) -> dict[str, dict[str, int]]:
    """Cases per code of `dim` (channel, level) and outcome."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    codes = {code: name for name, _label, _filter, codes in OUTCOMES for code in codes}
    for (_day, code, state), values in tally.read(conn, q.source, dim).items():
        found[code][codes.get(state, "other")] += values[N]
    return found


def _outcome_columns(first: Any) -> list[dict[str, Any]]:
    return [{"key": "key", "label": str(first)}, {"key": "total", "label": str(_l("合计"))},
            *({"key": name, "label": str(label), "narrow": {"status": key} if key else None, "chart": True}
              for name, label, key, _codes in OUTCOMES)]


def _outcome_cells(counts: Mapping[str, int]) -> list[int]:
    return [sum(counts.values()), *(counts.get(name, 0) for name, *_rest in OUTCOMES)]


def summary(conn: Connection, q: Query) -> Table:
    """总量: the cases and each outcome, and the amounts granted."""
    table = Table("summary", str(_l("总量")), "figures", _outcome_columns(_l("范围"))
                  + [{"key": "amount", "label": str(_l("救助金额（元）"))}])
    codes = {code: name for name, _label, _filter, codes in OUTCOMES for code in codes}
    counts: dict[str, int] = defaultdict(int)
    amount = 0
    for code, values in tally.read(conn, q.source, "status").by(1).items():
        counts[codes.get(code, "other")] += values[N]
        amount += values[CENTS]
    table.add([str(_l("全部")), *_outcome_cells(counts), round(amount / 100, 2)])
    return table


def _period_of(day: date, by: str) -> tuple[str, date, date]:
    if by == "week":
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}", start, start + timedelta(days=6)
    if by == "month":
        last = month_calendar.monthrange(day.year, day.month)[1]
        return day.strftime("%Y-%m"), day.replace(day=1), day.replace(day=last)
    return day.isoformat(), day, day


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _per_day(conn: Connection, q: Query) -> dict[date, dict[str, int]]:
    """Cases per day of registration and outcome."""
    codes = {code: name for name, _label, _filter, codes in OUTCOMES for code in codes}
    found: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (day, code, _sub), values in tally.read(conn, q.source, "status", by_day=True).items():
        found[_as_date(day)][codes.get(code, "other")] += values[N]
    return found


def volume(conn: Connection, q: Query) -> Table:
    """业务量 per day, week or month, by outcome."""
    by = q.by if q.by in ("day", "week", "month") else "day"
    table = Table("volume", str(_l("业务量")), "stacked", _outcome_columns(_l("日期")))
    buckets: dict[str, tuple[date, date, dict[str, int]]] = {}
    for day, counts in sorted(_per_day(conn, q).items()):
        label, start, end = _period_of(day, by)
        bucket = buckets.setdefault(label, (start, end, defaultdict(int)))
        for name, n in counts.items():
            bucket[2][name] += n
    f = q.case_filter
    for label, (start, end, counts) in buckets.items():
        start, end = max(start, f.date_from or start), min(end, f.date_to or end)
        table.add([label, *_outcome_cells(counts)], {"date_from": start, "date_to": end})
    return table


def _by_code(conn: Connection, q: Query, name: str, title: Any, first: Any, labels: Mapping[str, str]) -> Table:
    table = Table(name, str(title), "stacked", _outcome_columns(first))
    found = _outcomes(conn, q, name)
    for code in [*labels, *sorted(set(found) - set(labels))]:
        if code in found:
            table.add([labels.get(code, code), *_outcome_cells(found[code])], {name: code})
    return table


def channel(conn: Connection, q: Query) -> Table:
    """业务量 by 受理渠道 and outcome."""
    return _by_code(conn, q, "channel", _l("受理渠道"), _l("渠道"), channel_choices())


def level(conn: Connection, q: Query) -> Table:
    """业务量 by 受理层级 and outcome."""
    return _by_code(conn, q, "level", _l("受理层级"), _l("层级"), level_choices())


def _percentile(histogram: Mapping[int, int], share: float) -> int | None:
    """The nearest-rank percentile of a histogram of whole units."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = max(1, -(-int(total * share * 1000) // 1000)), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def _days(hours: float | None) -> float | None:
    return None if hours is None else round(hours / 24, 1)


def departments(conn: Connection, q: Query) -> Table:
    """分部门: received, done, overdue, average and 90th-percentile handling time (days)."""
    table = Table("departments", str(_l("分部门办理情况")), "bar", [
        {"key": "key", "label": str(_l("部门"))}, {"key": "received", "label": str(_l("受理")), "chart": True},
        {"key": "done", "label": str(_l("办结")), "chart": True},
        {"key": "overdue", "label": str(_l("超期")), "chart": True},
        {"key": "average", "label": str(_l("平均办理时长（天）"))},
        {"key": "p90", "label": str(_l("90%办理时长（天）"))}],
        note=str(_l("办理时长：部门收到案件至其最后一项任务办结；90% 的案件在所示天数内办结（按整天计）")))
    dept, dept_days = tally.read_departments(conn, q.source)
    totals = dept.by(1)
    late = tally.late_unflagged(conn, q.source, q.now)
    hist: dict[str, dict[int, int]] = defaultdict(dict)
    for (_day, code, days), values in dept_days.items():
        hist[code][int(days)] = hist[code].get(int(days), 0) + values[N]
    for code in q.reference.departments():
        if code not in totals:
            continue
        figures = totals[code]
        done = figures[DONE]
        average = figures[SECONDS] / 3600 / done if done else None
        p90 = _percentile(hist[code], 0.9)
        table.add([q.reference.department_name(code), figures[N], done, figures[LATE] + late.get(code, 0),
                   _days(average), None if p90 is None else p90 + 1], {"department": code})
    return table


def _dates(conn: Connection, q: Query) -> dict[date, int]:
    return {day: sum(counts.values()) for day, counts in _per_day(conn, q).items()}


def months(conn: Connection, q: Query) -> Table:
    """时间分布: cases registered per month."""
    table = Table("months", str(_l("按月分布")), "line", [{"key": "key", "label": str(_l("月份"))},
                                                         _cases()])
    found: dict[str, int] = defaultdict(int)
    for day, n in _dates(conn, q).items():
        found[day.strftime("%Y-%m")] += n
    for month, n in sorted(found.items()):
        year, number = (int(part) for part in month.split("-"))
        _label, start, end = _period_of(date(year, number, 1), "month")
        f = q.case_filter
        table.add([month, n], {"date_from": max(start, f.date_from or start), "date_to": min(end, f.date_to or end)})
    return table


def weekdays(conn: Connection, q: Query) -> Table:
    """时间分布: cases registered per weekday."""
    table = Table("weekdays", str(_l("按星期分布")), "bar", [{"key": "key", "label": str(_l("星期"))},
                                                            _cases()])
    found: dict[int, int] = defaultdict(int)
    for day, n in _dates(conn, q).items():
        found[day.weekday()] += n
    for number, label in enumerate(WEEKDAYS):
        table.add([str(label), found.get(number, 0)])
    return table


def hours(conn: Connection, q: Query) -> Table:
    """时间分布: cases registered per hour of the day."""
    table = Table("hours", str(_l("按时段分布")), "bar", [{"key": "key", "label": str(_l("时段"))},
                                                          _cases()])
    found = {int(code): values[N] for code, values in tally.read(conn, q.source, "hour").by(1).items()}
    for hour in range(24):
        table.add([f"{hour:02d}:00", found.get(hour, 0)])
    return table


def handling(conn: Connection, q: Query) -> Table:
    """办理时长分布: ended cases by days from registration to the end."""
    table = Table("handling", str(_l("办理时长分布")), "bar", [{"key": "key", "label": str(_l("办理时长"))},
                                                              _cases()],
                  note=str(_l("已结束的案件：登记至结束")))
    found = {int(code): values[N] for code, values in tally.read(conn, q.source, "handling").by(1).items()}
    lower = 0
    for index, bound in enumerate([*HANDLING_BUCKETS, None]):
        label = str(_l("{low}–{high} 天")).format(low=lower, high=bound) if bound else \
            str(_l("{low} 天以上")).format(low=lower)
        table.add([label, found.get(index, 0)])
        lower = bound or lower
    return table


def assistance(conn: Connection, q: Query) -> Table:
    """救助类型: cases and amounts granted per assistance type and matter."""
    table = Table("assistance", str(_l("救助类型与事项")), "bar", [
        {"key": "type", "label": str(_l("救助类型"))}, {"key": "key", "label": str(_l("事项"))},
        _cases(), {"key": "amount", "label": str(_l("救助金额（元）"))}])
    found = tally.read(conn, q.source, "matter").by(1)
    matters, types = q.reference.matters(), q.reference.assistance_types()
    order = {code: i for i, code in enumerate(types)}
    for code in sorted(found, key=lambda c: (order.get(str(matters.get(c, {}).get("assistance_type")), 99), c)):
        kind = matters.get(code, {}).get("assistance_type", "")
        values = found[code]
        table.add([str(types.get(kind, {}).get("zh", kind)), q.reference.matter_name(code), values[N],
                   round(values[CENTS] / 100, 2)], {"matter": code})
    return table


def regions(conn: Connection, q: Query) -> Table:
    """Per township and village (乡镇、村): cases and those ended, for a treemap."""
    table = Table("regions", str(_l("乡镇（街道）与村（社区）")), "treemap", [
        {"key": "township", "label": str(_l("乡镇（街道）"))}, {"key": "key", "label": str(_l("村（社区）"))},
        _cases(), {"key": "ended", "label": str(_l("已结束"))}])
    rows = [(township, village, values) for (_day, township, village), values
            in tally.read(conn, q.source, "region").items()]
    names = q.names({c for r in rows for c in (r[0], r[1]) if c})
    for township, village, values in sorted(rows, key=lambda r: (r[0], r[1])):
        narrow = {"township": township, **({"village": village} if village else {})}
        table.add([names.get(township, township), names.get(village, village) if village else str(_l("（未填村）")),
                   values[N], values[ENDED]], narrow, parent=township)
    return table


def _parts_match(f: CaseFilter, reference: ReferenceData) -> Callable[[dict[str, str]], bool]:
    """A test of a compound slice code's values (`facts.code_parts`) against the filter's fields."""
    kinds = {code: m.get("assistance_type") for code, m in reference.matters().items()}
    statuses = _statuses(f)

    def accepts(parts: dict[str, str]) -> bool:
        matters = parts["matters"].split(facts.MATTER_SEPARATOR) if "matters" in parts else []
        return ((not f.matter or f.matter in matters)
                and (not f.assistance_type or any(kinds.get(m) == f.assistance_type for m in matters))
                and (not f.status or parts["status"] in statuses)
                and all(not getattr(f, name) or parts.get(name) == getattr(f, name) for name in EQUAL_PARTS))
    return accepts


def _compound_codes(kind: str) -> Callable[[Connection, CaseFilter, ReferenceData], tuple[str, ...]]:
    """A compound slice's codes for a filter: those the tally holds whose parts the filter accepts."""
    def codes(conn: Connection, f: CaseFilter, reference: ReferenceData) -> tuple[str, ...]:
        accepts = _parts_match(f, reference)
        return tuple(c for c in tally.slice_codes(conn, kind) if accepts(facts.code_parts(kind, c)))
    return codes


FILTERS_OF = {"matters": ("matter", "assistance_type")}  # a compound slice's field: the filter's fields it answers
# The compound slices' fields that match a filter's field of the same name by equality (matters and a status
# are matched as `_parts_match` says).
EQUAL_PARTS = sorted({name for fields in facts.COMPOUND.values() for name in fields} - {"matters", "status"})
# The tally's slices a filter may name, in the order tried: the filter's fields each stands for, and its codes
# for a filter.
SLICES: list[tuple[str, frozenset[str], Callable[[Connection, CaseFilter, ReferenceData], tuple[str, ...]]]] = [
    (facts.TOWNSHIP, frozenset({"township"}), lambda conn, f, r: (f.township,)),
    (facts.CHANNEL, frozenset({"channel"}), lambda conn, f, r: (f.channel,)),
    (facts.LEVEL, frozenset({"level"}), lambda conn, f, r: (f.level,)),
    (facts.DEPARTMENT, frozenset({"department"}), lambda conn, f, r: (f.department,)),
    (facts.GREEN, frozenset({"green"}), lambda conn, f, r: ("1",)),
    (facts.RATING_SLICE, frozenset({"satisfaction"}), lambda conn, f, r: (f.satisfaction,)),
    *((kind, frozenset(name for field in fields for name in FILTERS_OF.get(field, (field,))), _compound_codes(kind))
      for kind, fields in facts.COMPOUND.items()),
]
PERIOD_FIELDS = ("date_from", "date_to")


def _named_slice(conn: Connection, f: CaseFilter, reference: ReferenceData) -> tuple[str, tuple[str, ...]] | None:
    """The tally slice (kind, codes) that holds exactly the cases the filter's fields (its period aside) name:
    ("", ("",)) for none, None when no slice does."""
    named = {name for name in FILTER_FIELDS if name not in PERIOD_FIELDS and getattr(f, name)}
    if not named:
        return facts.COUNTY, ("",)
    return next(((kind, codes(conn, f, reference)) for kind, fields, codes in SLICES if named <= fields), None)


def source(conn: Connection, f: CaseFilter, reference: ReferenceData,
           scope: tuple[str, str, ColumnElement[bool] | None] | None, where: ColumnElement[bool],
           groups: tuple[str, ...] | None, narrowed: bool) -> Source:
    """Where a chart of this filter under this scope (`scoping.fact_scope`) reads.

    The county: the slice that stands for the filter's fields (`SLICES`), else the fact rows under `where`.
    A scope of a slice (a township, a department) is that slice's cases and a few others (`rest`): the first
    read as the county's with the filter narrowed to the slice — from the tally when a slice holds them, else
    from the fact rows — and the others from the fact rows beside it."""
    per_case = Source(where, groups=groups, narrowed=narrowed)
    if scope is None:
        return per_case
    kind, code, rest = scope
    if kind == facts.COUNTY:
        named = _named_slice(conn, f, reference)
        return per_case if named is None else Source(where, tally.Slice(*named, f.date_from, f.date_to),
                                                     groups=groups, narrowed=narrowed)
    slice_field = SCOPE_FIELDS[kind]
    asked = getattr(f, slice_field)
    if asked and asked != code:
        return per_case  # another township or department than the scope's: only the rest can hold its cases
    narrowing: dict[str, Any] = {slice_field: code}
    own = replace(f, **narrowing)
    rest = None if asked or rest is None else and_(rest, fact_clause(f, reference))  # asked: the slice alone
    named = _named_slice(conn, own, reference)
    if named is None:
        return Source(where, None, rest, groups, True, cases=fact_clause(own, reference))
    return Source(where, tally.Slice(*named, f.date_from, f.date_to), rest, groups, narrowed)


SCOPE_FIELDS = {facts.TOWNSHIP: "township", facts.DEPARTMENT: "department"}  # a scope's slice: the filter field


CHARTS: dict[str, Callable[[Connection, Query], Table]] = {
    "summary": summary, "volume": volume, "channel": channel, "level": level, "departments": departments,
    "months": months, "weekdays": weekdays, "hours": hours, "handling": handling, "assistance": assistance,
    "regions": regions,
}


def org_names(conn: Connection) -> Callable[[Iterable[str]], dict[str, str]]:
    """A lookup of organisation names by code on this connection."""
    def lookup(codes: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(codes))
        return {r.code: r.name for r in conn.execute(select(ORGS.c.code, ORGS.c.name).where(ORGS.c.code.in_(wanted)))}
    return lookup
