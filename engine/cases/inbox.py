"""The inbox (我的待办 / 组内待办) for staff, always through `engine.access.scoping`.

These read the human-task mirror and the application table only; they never deserialize a
workflow. Personal data leaves this module masked. `TaskQuery` is what the inbox page and the
REST API ask for; `parse_task_query` reads it from URL parameters for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, select

from engine import clock
from engine.access import personal_data, scoping
from engine.access.accounts import Principal
from engine.cases import labels, store
from engine.cases.channels import CHANNELS
from engine.cases.regions import places
from engine.cases.tasks import task_summary
from engine.cases.workflows import Workflows
from engine.deadlines.due import due_state, overdue_clause
from engine.errors import InvalidData
from engine.models import SavedFilter
from engine.paging import MAX_PER_PAGE, Page, paginate
from engine.status import READY
from engine.tables import APPLICATION, TASK

SORTS = ("priority", "due", "created", "name")
SCOPES = ("groups", "mine")
MAX_FILTER_NAME = 100
_FLAGS = {"": False, "0": False, "false": False, "off": False, "1": True, "true": True, "on": True}


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
    errors: dict[str, list[str]] = field(default_factory=dict)

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


class _Args:
    """URL parameters read leniently, every unusable one noted in `errors`."""

    def __init__(self, args: Mapping[str, Any]):
        self.args = args
        self.errors: dict[str, list[str]] = {}

    def text(self, key: str, limit: int) -> str:
        return str(self.args.get(key) or "").strip()[:limit]

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(key, 40)
        if value and value not in allowed:
            self.errors[key] = [f"应为 {'、'.join(allowed)} 之一"]
        return value if value in allowed else default

    def flag(self, key: str) -> bool:
        value = self.text(key, 10).lower()
        if value not in _FLAGS:
            self.errors[key] = ["应为 1 或 0"]
        return _FLAGS.get(value, False)

    def day(self, key: str) -> date | None:
        value = self.text(key, 20)
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            self.errors[key] = ["日期格式应为 YYYY-MM-DD"]
            return None

    def number(self, key: str, default: int, highest: int) -> int:
        value = self.text(key, 10)
        if not value:
            return default
        if not value.isdigit() or not 1 <= int(value) <= highest:
            self.errors[key] = [f"应为 1–{highest} 的整数"]
            return default
        return int(value)


def parse_task_query(args: Mapping[str, Any], strict: bool = False, per_page: int | None = None) -> TaskQuery:
    """Read a TaskQuery from URL parameters. Lenient (the inbox page): bad values fall back to their
    defaults and are listed in `errors`; strict (the API): InvalidData names each bad parameter."""
    read = _Args(args)
    query = TaskQuery(
        scope=read.choice("scope", SCOPES, "groups"), name=read.text("name", 50), matter=read.text("matter", 50),
        channel=read.choice("channel", CHANNELS, ""), township=read.text("township", 60),
        overdue=read.flag("overdue"), green_channel=read.flag("green_channel"), due_from=read.day("due_from"),
        due_to=read.day("due_to"), case_no=read.text("case_no", 40), sort=read.choice("sort", SORTS, "priority"),
        page=read.number("page", 1, 10**6), per_page=per_page or read.number("per_page", 20, MAX_PER_PAGE))
    if strict and read.errors:
        raise InvalidData("查询参数有误", read.errors)
    query.errors = read.errors
    return query


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, clock.LOCAL_TZ)


def _filters(query: TaskQuery, principal: Principal, now: datetime) -> list[Any]:
    clauses: list[Any] = [TASK.c.state == READY, scoping.task_filter(principal), store.task_of_open_case()]
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
        clauses.append(overdue_clause(now))
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
    overdue_first = case((overdue_clause(now), 0), else_=1)
    green_first = case((APPLICATION.c.green_channel.is_(True), 0), else_=1)
    return [green_first, overdue_first, TASK.c.due_at, TASK.c.created_at]


class Inbox:
    """The task lists of staff (`CaseEngine.inbox`) and their saved filters."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows
        self.reference = workflows.settings.reference

    def tasks(self, principal: Principal, query: TaskQuery) -> Page[dict[str, Any]]:
        """One page of the open tasks this user may see, with the case at a glance and the due state."""
        scoping.require(principal, "work_tasks")
        now = clock.now()
        calendar = self.workflows.calendar
        # Outer: tasks of processes started by key (LC…) have no application behind them.
        joined = TASK.join(APPLICATION, APPLICATION.c.case_no == TASK.c.case_no, isouter=True)
        statement = (select(*store.TASK_COLUMNS, APPLICATION.c.channel, APPLICATION.c.township, APPLICATION.c.village,
                            APPLICATION.c.green_channel, APPLICATION.c.applicant_name, APPLICATION.c.matters,
                            APPLICATION.c.request)
                     .select_from(joined).where(and_(*_filters(query, principal, now))).order_by(*_order(query, now)))

        def row(found: Any) -> dict[str, Any]:
            r = found._mapping
            summary = task_summary(r, now)
            summary.update({
                "channel": r["channel"], "township": r["township"], "village": r["village"],
                "green_channel": bool(r["green_channel"]),
                "applicant": personal_data.mask_name(r["applicant_name"] or ""),
                "matters": list(r["matters"] or []), "request": r["request"] or "", "context": r["context"],
                "due": due_state(r["due_at"], now, calendar, r["overdue_since"]),
            })
            return summary

        with self.workflows.transaction() as session:
            page = paginate(session.connection(), statement, query.page, query.per_page, row)
            self._name(session, page.items)
        return page

    def _name(self, session: Any, rows: list[dict[str, Any]]) -> None:
        """Give rows the names of their places, groups and departments (codes stay for links)."""
        codes = {c for r in rows for c in (r["township"], r["village"], *r["candidate_groups"]) if c}
        names = labels.group_labels(session, self.reference, codes)
        for r in rows:
            r["place"] = labels.place(names, r["township"], r["village"])
            r["group_names"] = [names.get(g, g) for g in r["candidate_groups"]]
            r["department_name"] = self.reference.department_name((r["context"] or {}).get("department"))
            r["channel_label"] = labels.channel_label(r["channel"])

    def page(self, principal: Principal, query: TaskQuery) -> dict[str, Any]:
        """The inbox page: one page of tasks, the user's saved filters and the choices of the filter form."""
        found = self.tasks(principal, query)
        with self.workflows.transaction() as session:
            saved = session.scalars(select(SavedFilter).where(SavedFilter.user_id == principal.user_id)
                                    .order_by(SavedFilter.name)).all()
            townships = [(p.code, p.name) for p in places(session.connection()) if p.kind == "township"]
            saved_filters = [{"id": f.id, "name": f.name, "params": dict(f.params)} for f in saved]
        return {"tasks": found, "saved_filters": saved_filters, "townships": townships,
                "matters": [(code, m["name"]) for code, m in self.reference.matters().items()],
                "channels": labels.CHANNEL_LABELS}

    def save_filter(self, principal: Principal, name: str, query: TaskQuery) -> dict[str, Any]:
        """Save the query under a name (replacing one of the same name); return its parameters."""
        name = (name or "").strip()
        if not name:
            raise InvalidData("请为筛选条件填写名称", {"filter_name": ["请为筛选条件填写名称"]})
        if len(name) > MAX_FILTER_NAME:
            raise InvalidData("名称过长", {"filter_name": [f"名称不能超过 {MAX_FILTER_NAME} 个字"]})
        params = query.as_params()
        with self.workflows.transaction() as session:
            existing = session.scalar(select(SavedFilter).where(SavedFilter.user_id == principal.user_id,
                                                                SavedFilter.name == name))
            if existing is None:
                session.add(SavedFilter(user_id=principal.user_id, name=name, params=params, created_at=clock.now()))
            else:
                existing.params = params
        return params

    def delete_filter(self, principal: Principal, filter_id: int) -> bool:
        """Delete one of the user's saved filters; False when it is not theirs or does not exist."""
        with self.workflows.transaction() as session:
            saved = session.get(SavedFilter, filter_id)
            if saved is None or saved.user_id != principal.user_id:
                return False
            session.delete(saved)
            return True
