"""The case filter (案件查询条件, R-6.4.1 / R-6.4.2): one definition of what "these cases" means.

The case list and its export, `GET /api/v1/cases`, and the dashboard's click-through all take the same
filters by the same names, checked here once: 登记日期 from–to (local dates, both ends included),
乡镇(街道), 村(社区), 事项, 救助类型, 受理渠道, 受理层级, 部门 (a department that has handled a task of
the case), 状态, 超期 (a task of the case went overdue), 绿色通道, 满意度 (the case's first 好差评) and
a text (case number or request). `parse_filter` turns request arguments into a `CaseFilter` and
Chinese errors (a bad field is dropped, never guessed); `filter_args` turns it back into link
arguments; `filter_clause` is its SQL over `application` joined with `process_instance`. Who may see
which cases is not decided here: callers AND it with `scoping.case_filter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, and_, cast, exists, false, or_, select, true

from engine import clock, status, tables
from engine.access import scoping
from engine.cases.channels import CHANNEL_LABELS, CHANNELS, LEVEL_LABELS, LEVELS
from engine.deadlines.due import went_overdue_clause
from engine.reference import ReferenceData
from engine.tables import APPLICATION, INSTANCE, RATING, TASK

MAX_TEXT = 100
# 待补正 is a state inside 办理中 (process_instance.supplement_since), offered beside the instance statuses.
SUPPLEMENT = "supplement"
FLAG_VALUES = {"1": True, "true": True, "on": True, "yes": True, "是": True,
               "0": False, "false": False, "off": False, "no": False, "否": False, "": False}
Errors = dict[str, list[str]]


@dataclass(frozen=True)
class CaseFilter:
    """The filters of one case query; empty strings and None mean "any"."""

    date_from: date | None = None
    date_to: date | None = None
    township: str = ""
    village: str = ""
    matter: str = ""
    assistance_type: str = ""
    channel: str = ""
    level: str = ""
    department: str = ""
    status: str = ""
    overdue: bool = False
    green: bool = False
    satisfaction: str = ""
    q: str = ""

    @property
    def empty(self) -> bool:
        """True when nothing narrows the query."""
        return self == CaseFilter()

    def narrowed(self, **changes: Any) -> CaseFilter:
        """This filter with some fields replaced (the dashboard's click-through adds one bar's value)."""
        return replace(self, **changes)


FILTER_FIELDS = tuple(f.name for f in fields(CaseFilter))


def status_choices() -> dict[str, str]:
    """The 状态 filter's values with their labels: each instance status group, and 待补正."""
    return {**{key: str(label) for key, (label, _codes) in status.FILTERS.items()},
            SUPPLEMENT: str(status.SUPPLEMENT_LABEL)}


def channel_choices() -> dict[str, str]:
    """The 受理渠道 filter's values with their labels."""
    return {code: str(CHANNEL_LABELS[code]) for code in CHANNELS}


def level_choices() -> dict[str, str]:
    """The 受理层级 filter's values with their labels."""
    return {code: str(LEVEL_LABELS[code]) for code in LEVELS}


def _date(value: str, label: str, errors: Errors, key: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        errors[key] = [f"{label}应为 YYYY-MM-DD 格式的日期"]
        return None


def _org_kinds(conn: Connection) -> dict[str, str]:
    return {code: kind for code, kind in conn.execute(select(tables.ORGS.c.code, tables.ORGS.c.kind))}


def parse_filter(conn: Connection, reference: ReferenceData,
                 args: Mapping[str, Any]) -> tuple[CaseFilter, Errors]:
    """The filter named by request arguments, and the Chinese errors of the fields that could not be used
    (those are left out of the filter: the rest still applies)."""
    def text(key: str, limit: int = 60) -> str:
        value = args.get(key)
        return value.strip()[:limit] if isinstance(value, str) else ""

    errors: Errors = {}
    values: dict[str, Any] = {"q": text("q", MAX_TEXT)}
    values["date_from"] = _date(text("date_from"), "登记日期（起）", errors, "date_from")
    values["date_to"] = _date(text("date_to"), "登记日期（止）", errors, "date_to")
    if values["date_from"] and values["date_to"] and values["date_from"] > values["date_to"]:
        errors["date_to"] = ["登记日期（止）不能早于登记日期（起）"]
        values["date_to"] = None
    kinds = _org_kinds(conn) if any(text(k) for k in ("township", "village", "department")) else {}
    checks: dict[str, tuple[str, Any]] = {
        "township": ("乡镇(街道)", lambda v: kinds.get(v) == "township"),
        "village": ("村(社区)", lambda v: kinds.get(v) == "village"),
        "department": ("部门", lambda v: v in reference.departments() or kinds.get(v) == "department"),
        "matter": ("事项", lambda v: v in reference.matters()),
        "assistance_type": ("救助类型", lambda v: v in reference.assistance_types()),
        "channel": ("受理渠道", lambda v: v in CHANNELS),
        "level": ("受理层级", lambda v: v in LEVELS),
        "status": ("状态", lambda v: v in status_choices()),
        "satisfaction": ("满意度", lambda v: v in reference.rating_levels()),
    }
    for key, (label, valid) in checks.items():
        value = text(key)
        if value and not valid(value):
            errors[key] = [f"{label}“{value}”不存在"]
            value = ""
        values[key] = value
    for key, label in (("overdue", "超期"), ("green", "绿色通道")):
        raw = text(key).lower()
        if raw not in FLAG_VALUES:
            errors[key] = [f"{label}应为 1 或 0"]
        values[key] = FLAG_VALUES.get(raw, False)
    return CaseFilter(**values), errors


def filter_args(case_filter: CaseFilter) -> dict[str, str]:
    """The filter as request arguments (only the fields set), for links, paging and exports."""
    out: dict[str, str] = {}
    for key, value in asdict(case_filter).items():
        if isinstance(value, bool):
            if value:
                out[key] = "1"
        elif isinstance(value, date):
            out[key] = value.isoformat()
        elif value:
            out[key] = str(value)
    return out


def local_day_start(day: date) -> datetime:
    """The instant a local calendar day begins (登记日期 are local dates; times are stored in UTC)."""
    return datetime.combine(day, time.min, tzinfo=clock.LOCAL_TZ)


def _matter_clause(code: str) -> ColumnElement[bool]:
    # application.matters is a JSON list of codes; its text holds "CODE" exactly once when it names it.
    return cast(APPLICATION.c.matters, String).contains(f'"{code}"')


def _first_rating_level(level: str) -> ColumnElement[bool]:
    return exists(select(RATING.c.id).where(RATING.c.case_no == APPLICATION.c.case_no,
                                            RATING.c.follow_up.is_(False), RATING.c.level == level))


def _status_clause(key: str) -> ColumnElement[bool]:
    if key == SUPPLEMENT:
        return and_(INSTANCE.c.status == status.OPEN, INSTANCE.c.supplement_since.is_not(None))
    codes = status.filter_statuses(key)
    return INSTANCE.c.status.in_(codes) if codes else false()


def filter_clause(case_filter: CaseFilter, reference: ReferenceData, now: datetime) -> ColumnElement[bool]:
    """SQL over application ⋈ process_instance: the cases the filter names (scope not included)."""
    f = case_filter
    clauses: list[ColumnElement[bool]] = []
    if f.date_from:
        clauses.append(APPLICATION.c.created_at >= local_day_start(f.date_from))
    if f.date_to:
        clauses.append(APPLICATION.c.created_at < local_day_start(f.date_to + timedelta(days=1)))
    for key in ("township", "village", "channel", "level"):
        if getattr(f, key):
            clauses.append(APPLICATION.c[key] == getattr(f, key))
    if f.matter:
        clauses.append(_matter_clause(f.matter))
    if f.assistance_type:
        codes = [code for code, m in reference.matters().items() if m.get("assistance_type") == f.assistance_type]
        clauses.append(or_(*[_matter_clause(code) for code in codes]) if codes else false())
    if f.department:
        clauses.append(scoping.handled_by(f.department))
    if f.status:
        clauses.append(_status_clause(f.status))
    if f.overdue:
        clauses.append(exists(select(TASK.c.id).where(TASK.c.case_no == APPLICATION.c.case_no,
                                                      went_overdue_clause(now))))
    if f.green:
        clauses.append(APPLICATION.c.green_channel.is_(True))
    if f.satisfaction:
        clauses.append(_first_rating_level(f.satisfaction))
    if f.q:
        clauses.append(or_(APPLICATION.c.case_no.contains(f.q), APPLICATION.c.request.contains(f.q)))
    return and_(true(), *clauses)
