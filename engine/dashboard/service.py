"""The dashboard's service (`CaseEngine.dashboard`, 数据汇聚展示 R-6.4.1): one chart per call, scoped.

Design: the charts read per-case fact rows, not the base tables. `case_fact` (one row per case: the
registration's local day, month, weekday and hour, channel, level, township, village, green channel,
status, end, handling time, amount granted, first 好差评), `case_fact_matter` (each matter of a case with
the amount its department granted) and `dept_fact` (each group that held a task of a case: received,
done, overdue, handling time) are written by `facts.refresh` in the transaction of every change of a
case (`store.save_instance`, a first rating), so the figures never lag or drift from the case list; a
rebuild (`relief dashboard rebuild`, the migration) computes the same rows. Each chart is one or two
GROUP BY statements under the user's scope (`scoping.fact_filter`, the twin of `case_filter`) and the
case filter's fields (`case_query.parse_filter`, so a bar's click-through is the case list of the same
filter narrowed to the bar). Indexes lead with the day, the township, the channel, a matter or a group
and carry the grouped columns, so a chart is one index range read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy import and_, select

from engine import clock, db
from engine.access import scoping
from engine.access.principals import Principal
from engine.cases.case_query import CaseFilter, channel_choices, parse_filter
from engine.cases.workflows import Workflows
from engine.dashboard import charts, facts
from engine.errors import NotFound
from engine.feedback.statistics import rating_statistics
from engine.i18n import _l
from engine.tables import ORGS

SATISFACTION = "satisfaction"
CHART_NAMES = (*charts.CHARTS, SATISFACTION)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Dashboard:
    """The dashboard's reads: the filter's choices, each chart's table, a chart as CSV; the rebuild."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows
        self.reference = workflows.settings.reference

    def choices(self, principal: Principal) -> dict[str, Any]:
        """What the filter form offers: townships, matters, channels, departments."""
        scoping.require(principal, "dashboard")
        with self.workflows.reading() as session:
            townships = {r.code: r.name for r in session.execute(
                select(ORGS.c.code, ORGS.c.name).where(ORGS.c.kind == "township").order_by(ORGS.c.code))}
        return {"townships": townships,
                "matters": {c: m.get("name", c) for c, m in self.reference.matters().items()},
                "channels": channel_choices(),
                "departments": {c: self.reference.department_name(c) for c in self.reference.departments()},
                "charts": CHART_NAMES}

    def chart(self, principal: Principal, name: str, args: Mapping[str, Any], per_case: bool = False) -> dict[str, Any]:
        """One chart's table for the cases this user may see that `args` (the case filter's fields, and `by`
        for 业务量: day, week or month) name: {"table", "filter", "errors"}. `per_case`: read the fact rows
        even where the tally would serve (a check of the two)."""
        scoping.require(principal, "dashboard")
        if name not in CHART_NAMES:
            raise NotFound(f"图表 {name} 不存在")
        with self.workflows.reading() as session:
            conn = session.connection()
            db.prefer_index_reads(conn)  # the fact rows are read by index, a few thousand at random
            case_filter, errors = parse_filter(conn, self.reference, args)
            errors.update(charts.unsupported(case_filter))
            case_filter = replace(case_filter, overdue=False, q="",
                                  status="" if "status" in errors else case_filter.status)
            if name == SATISFACTION:
                table = self._satisfaction(session, principal, case_filter)
            else:
                where = and_(scoping.fact_filter(principal, case_filter.township),
                             charts.fact_clause(case_filter, self.reference))
                narrowed = not (principal.has(*scoping.COUNTY_WIDE) and case_filter.empty)
                scope = None if per_case else scoping.fact_scope(principal)
                source = charts.source(conn, case_filter, self.reference, scope, where,
                                       _shown_departments(principal, case_filter), narrowed)
                by = str(args.get("by") or "")
                query = charts.Query(case_filter, source, self.reference, clock.now(), by, charts.org_names(conn))
                table = charts.CHARTS[name](conn, query)
        return {"table": table, "filter": case_filter, "errors": errors}

    def _satisfaction(self, session: Any, principal: Principal, case_filter: CaseFilter) -> charts.Table:
        """满意度 per month, from the 好差评 statistics (`feedback.statistics`, their own scope)."""
        since = case_filter.date_from.strftime("%Y-%m") if case_filter.date_from else None
        until = case_filter.date_to.strftime("%Y-%m") if case_filter.date_to else None
        figures = rating_statistics(session, self.reference, principal, "month", since, until)
        table = charts.Table(SATISFACTION, str(_l("满意度")), "line", [
            {"key": "key", "label": str(_l("月份"))}, {"key": "total", "label": str(_l("评价数"))},
            {"key": "satisfied_rate", "label": str(_l("满意率（%）")), "chart": True},
            {"key": "poor", "label": str(_l("差评"))}],
            note=str(_l("好差评统计（按评价月份，只随登记日期筛选）")))
        for row in figures["rows"]:
            rate = row["satisfied_rate"]
            table.add([row["name"], row["total"], None if rate is None else round(rate * 100, 1), row["poor"]])
        return table

    def csv(self, principal: Principal, name: str, args: Mapping[str, Any]) -> tuple[str, str]:
        """One chart's table as CSV (UTF-8 with a BOM, for Excel): (file name, text)."""
        table = self.chart(principal, name, args)["table"]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([c["label"] for c in table.columns])
        for row in table.rows:
            writer.writerow([_cell(v) for v in row["cells"]])
        stamp = clock.local_text(clock.now(), "%Y%m%d")
        return f"dashboard-{name}-{stamp}.csv", "\ufeff" + out.getvalue()

    def rebuild(self) -> int:
        """Rewrite every case's fact rows from the base tables; return the cases (an operator's tool)."""
        with self.workflows.transaction() as session:
            return facts.rebuild_all(session.connection())


def _shown_departments(principal: Principal, case_filter: CaseFilter) -> tuple[str, ...] | None:
    """The departments 分部门 shows: the one the filter names, a department user's own, else all (None)."""
    if case_filter.department:
        return (case_filter.department,)
    if not principal.has(*scoping.COUNTY_WIDE) and principal.has("department"):
        return (principal.org_code,)
    return None


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def table_json(table: charts.Table) -> dict[str, Any]:
    """A chart's table as plain data (the JSON endpoint)."""
    return asdict(table)
