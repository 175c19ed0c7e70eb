"""好差评 statistics (R-6.3.6) per matter, department, window, clerk or month; they feed the dashboard.

For each group, over the first ratings (追评 are counted apart):
- `total` and the count per level; `satisfied_rate` (满意率): the levels marked `satisfied`
  (非常满意, 满意, 基本满意) over the total; `poor` (差评): the levels marked `poor`.
- `callback_rate` (回访率): 差评 whose rectification's 回访 (feedback_callback) is done, over the 差评.
- `on_time_rate` (整改按期率): 整改 (feedback_rectify) done by its due time, over the 整改 done plus
  those still open past their due time; None while there is none of either.
The practice's target is 100% for both. A rating counts once in each of its matters and departments.
What each user sees is decided by `engine.access.scoping.rating_filter`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select
from sqlalchemy.orm import Session

from engine import clock
from engine.access import scoping
from engine.access.principals import Principal
from engine.cases import labels
from engine.i18n import _l
from engine.reference import ReferenceData
from engine.status import COMPLETED, READY
from engine.tables import ORGS, RATING, RATING_SUBJECT, TASK

DIMENSIONS = {"month": _l("月份"), "matter": _l("事项"), "department": _l("部门"), "window": _l("窗口"),
              "clerk": _l("窗口人员")}
CALLBACK_FORM, RECTIFY_FORM = "feedback_callback", "feedback_rectify"
ONLINE_WINDOW = "online"  # the group of ratings of cases applied for online (no registering window)


@dataclass
class Tally:
    """The counts of one group; `row()` gives the figures."""

    levels: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: int = 0
    satisfied: int = 0
    poor: int = 0
    follow_ups: int = 0
    called_back: int = 0
    rectified_on_time: int = 0
    rectify_due: int = 0

    def add(self, rating: Mapping[str, Any], levels: Mapping[str, Mapping[str, Any]],
            tasks: Mapping[str, Mapping[str, Any]]) -> None:
        if rating["follow_up"]:
            self.follow_ups += 1
            return
        level = levels.get(rating["level"], {})
        self.total += 1
        self.levels[rating["level"]] += 1
        self.satisfied += bool(level.get("satisfied"))
        if level.get("poor"):
            self.poor += 1
            loop = tasks.get(rating["rectification_case_no"] or "", {})
            self.called_back += bool(loop.get("called_back"))
            self.rectified_on_time += int(loop.get("on_time", 0))
            self.rectify_due += int(loop.get("due", 0))

    def row(self, key: str, name: str) -> dict[str, Any]:
        return {"key": key, "name": name, "total": self.total, "levels": dict(self.levels),
                "satisfied_rate": _rate(self.satisfied, self.total), "poor": self.poor,
                "callback_rate": _rate(self.called_back, self.poor), "on_time_rate": _rate(self.rectified_on_time,
                                                                                           self.rectify_due),
                "follow_ups": self.follow_ups}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def loop_figures(conn: Connection, case_nos: Iterable[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Per rectification: whether its 回访 is done, and its 整改 done on time / counted as due."""
    wanted = sorted({c for c in case_nos if c})
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"called_back": False, "on_time": 0, "due": 0})
    for start in range(0, len(wanted), 500):
        rows = conn.execute(select(TASK.c.case_no, TASK.c.form_key, TASK.c.state, TASK.c.due_at, TASK.c.completed_at)
                            .where(TASK.c.case_no.in_(wanted[start:start + 500]),
                                   TASK.c.form_key.in_((CALLBACK_FORM, RECTIFY_FORM))))
        for row in rows:
            loop = found[row.case_no]
            if row.form_key == CALLBACK_FORM:
                loop["called_back"] = loop["called_back"] or row.state == COMPLETED
                continue
            due = clock.aware(row.due_at) if row.due_at else None
            if row.state == COMPLETED:
                loop["due"] += 1
                loop["on_time"] += int(due is None or clock.aware(row.completed_at) <= due)
            elif row.state == READY and due is not None and due < now:
                loop["due"] += 1
    return found


def rating_statistics(session: Session, reference: ReferenceData, principal: Principal | None, by: str,
                      since: str | None = None, until: str | None = None) -> dict[str, Any]:
    """The figures per group of `by` (DIMENSIONS) for the months `since`…`until` (YYYY-MM, inclusive)
    over the ratings `principal` may see, with the totals over all of them."""
    conn = session.connection()
    period = [RATING.c.month >= since] if since else []
    period += [RATING.c.month <= until] if until else []
    ratings: list[dict[str, Any]] = [dict(r) for r in conn.execute(
        select(RATING.c.id, RATING.c.level, RATING.c.follow_up, RATING.c.org_code, RATING.c.clerk, RATING.c.month,
               RATING.c.rectification_case_no)
        .where(and_(scoping.rating_filter(principal), *period)).order_by(RATING.c.id)).mappings()]
    subjects: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    if by in ("matter", "department"):
        ids = [r["id"] for r in ratings]
        for start in range(0, len(ids), 500):
            for row in conn.execute(select(RATING_SUBJECT).where(RATING_SUBJECT.c.rating_id.in_(ids[start:start + 500]),
                                                                 RATING_SUBJECT.c.kind == by)):
                subjects[row.rating_id][row.kind].append(row.code)
    tasks = loop_figures(conn, (r["rectification_case_no"] for r in ratings), clock.now())
    levels = reference.rating_levels()
    groups: dict[str, Tally] = defaultdict(Tally)
    overall = Tally()
    for rating in ratings:
        overall.add(rating, levels, tasks)
        for key in _keys(rating, by, subjects):
            groups[key].add(rating, levels, tasks)
    names = _names(session, reference, by, list(groups))
    rows = [groups[k].row(k, names.get(k, k)) for k in sorted(groups, key=lambda k: (by != "month", k))]
    return {"by": by, "since": since, "until": until, "levels": [(c, lv["zh"]) for c, lv in levels.items()],
            "rows": rows, "total": overall.row("", "合计")}


def _keys(rating: Mapping[str, Any], by: str, subjects: Mapping[int, Mapping[str, list[str]]]) -> list[str]:
    if by == "month":
        return [rating["month"]]
    if by == "window":
        return [rating["org_code"] or ONLINE_WINDOW]
    if by == "clerk":
        return [rating["clerk"] or ONLINE_WINDOW]
    return list(subjects.get(rating["id"], {}).get(by, [])) or ["—"]


def _names(session: Session, reference: ReferenceData, by: str, keys: list[str]) -> dict[str, str]:
    online = {ONLINE_WINDOW: "网上申请"}
    conn = session.connection()
    if by == "matter":
        return {k: reference.matter_name(k) for k in keys}
    if by == "department":
        return {k: reference.department_name(k) for k in keys}
    if by == "window":
        rows = conn.execute(select(ORGS.c.code, ORGS.c.name).where(ORGS.c.code.in_(keys)))
        return online | {row.code: row.name for row in rows}
    if by == "clerk":
        return online | dict(labels.actor_names(session, keys))
    return {k: k for k in keys}
