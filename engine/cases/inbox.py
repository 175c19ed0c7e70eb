"""Inbox and case queries for staff (我的待办 / 组内待办), always through `engine.access.scoping`.

These read the human-task mirror and the application table only; they never deserialize a
workflow. Personal data leaves this module masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, String, and_, case, cast, exists, func, or_, select

from engine.access import personal_data, scoping
from engine.access.accounts import Principal
from engine.cases import store
from engine.cases.intake import LOCAL_TZ
from engine.cases.store import READY, TASK
from engine.cases.tasks import task_summary

APPLICATION = scoping.APPLICATION
SORTS = ("priority", "due", "created", "name")
MAX_PER_PAGE = 100


@dataclass
class TaskQuery:
    """What the inbox asks for: scope, filters, sort and page."""

    scope: str = "groups"  # "mine": assigned to me; "groups": everything I may see
    name: str = ""
    matter: str = ""
    channel: str = ""
    township: str = ""
    overdue: bool = False
    green_channel: bool = False
    due_from: date | None = None
    due_to: date | None = None
    case_no: str = ""
    sort: str = "priority"
    page: int = 1
    per_page: int = 20
    errors: dict[str, str] = field(default_factory=dict)

    def as_params(self) -> dict[str, Any]:
        """The query as URL/saved-filter parameters (defaults left out)."""
        defaults = TaskQuery()
        params = {k: getattr(self, k) for k in ("scope", "name", "matter", "channel", "township", "overdue",
                                                  "green_channel", "due_from", "due_to", "case_no", "sort")}
        return {k: _param_value(v) for k, v in params.items() if v != getattr(defaults, k)}


def _param_value(value: Any) -> Any:
    # The same spelling the inbox's query string uses, so saved filters can be re-applied.
    if isinstance(value, bool):
        return "1" if value else ""
    return value.isoformat() if isinstance(value, date) else value


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, LOCAL_TZ)


def _case_is_open() -> Any:
    # Tasks of a suspended case cannot be worked until an administrator resumes it.
    return exists(select(store.INSTANCE.c.id).where(store.INSTANCE.c.id == TASK.c.instance_id,
                                                   store.INSTANCE.c.status == "open"))


def _filters(query: TaskQuery, principal: Principal, now: datetime) -> list[Any]:
    clauses: list[Any] = [TASK.c.state == READY, scoping.task_filter(principal), _case_is_open()]
    if query.scope == "mine":
        clauses.append(TASK.c.assignee == principal.username)
    if query.name:
        clauses.append(TASK.c.name.contains(query.name))
    if query.case_no:
        clauses.append(TASK.c.case_no == query.case_no)
    if query.matter:
        clauses.append(cast(APPLICATION.c.matters, String).contains(f'"{query.matter}"'))
    if query.channel:
        clauses.append(APPLICATION.c.channel == query.channel)
    if query.township:
        clauses.append(APPLICATION.c.township == query.township)
    if query.overdue:
        clauses.append(TASK.c.due_at < now)
    if query.green_channel:
        clauses.append(APPLICATION.c.green_channel.is_(True))
    if query.due_from:
        clauses.append(TASK.c.due_at >= _local_day_start(query.due_from))
    if query.due_to:
        clauses.append(TASK.c.due_at < _local_day_start(query.due_to + timedelta(days=1)))
    return clauses


def _order(query: TaskQuery, now: datetime) -> list[Any]:
    if query.sort == "due":
        return [TASK.c.due_at, TASK.c.created_at]
    if query.sort == "created":
        return [TASK.c.created_at.desc()]
    if query.sort == "name":
        return [TASK.c.name, TASK.c.due_at]
    overdue_first = case((TASK.c.due_at < now, 0), else_=1)
    green_first = case((APPLICATION.c.green_channel.is_(True), 0), else_=1)
    return [green_first, overdue_first, TASK.c.due_at, TASK.c.created_at]


def search_tasks(conn: Connection, principal: Principal, query: TaskQuery,
                 now: datetime) -> tuple[list[dict[str, Any]], int]:
    """Return one page of the tasks this user may see, with the case at a glance, and the total."""
    joined = TASK.join(APPLICATION, APPLICATION.c.case_no == TASK.c.case_no)
    where = and_(*_filters(query, principal, now))
    total = conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
    per_page = max(1, min(query.per_page, MAX_PER_PAGE))
    rows = conn.execute(
        select(*store.TASK_COLUMNS, APPLICATION.c.channel, APPLICATION.c.township, APPLICATION.c.village,
               APPLICATION.c.green_channel, APPLICATION.c.applicant_name, APPLICATION.c.matters,
               APPLICATION.c.request)
        .select_from(joined).where(where).order_by(*_order(query, now))
        .limit(per_page).offset((max(query.page, 1) - 1) * per_page))
    return [_inbox_row(r._mapping, now) for r in rows], int(total)


def _inbox_row(row: Any, now: datetime) -> dict[str, Any]:
    summary = task_summary(row, now)
    summary.update({
        "channel": row["channel"], "township": row["township"], "village": row["village"],
        "green_channel": bool(row["green_channel"]), "applicant": personal_data.mask_name(row["applicant_name"]),
        "matters": list(row["matters"] or []), "request": row["request"], "context": row["context"],
    })
    return summary


def visible_case(conn: Connection, principal: Principal, case_no: str) -> bool:
    """True when the case exists and this user may see it."""
    return conn.execute(scoping.case_visible_clause(principal, case_no)).first() is not None


def search_cases(conn: Connection, principal: Principal, text: str = "", page: int = 1,
                 per_page: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Cases this user may see, newest first, optionally matching a case number or request text."""
    instance = store.INSTANCE
    joined = APPLICATION.join(instance, instance.c.case_no == APPLICATION.c.case_no)
    where = scoping.case_filter(principal)
    if text:
        where = and_(where, or_(APPLICATION.c.case_no.contains(text), APPLICATION.c.request.contains(text)))
    total = conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
    rows = conn.execute(
        select(APPLICATION.c.case_no, APPLICATION.c.channel, APPLICATION.c.township, APPLICATION.c.village,
               APPLICATION.c.applicant_name, APPLICATION.c.request, APPLICATION.c.green_channel,
               APPLICATION.c.created_at, instance.c.status)
        .select_from(joined).where(where).order_by(APPLICATION.c.created_at.desc(), APPLICATION.c.case_no.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page))
    return [{**{k: v for k, v in r._mapping.items() if k != "applicant_name"},
             "applicant": personal_data.mask_name(r.applicant_name)} for r in rows], int(total)
