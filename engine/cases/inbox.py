"""The inbox (我的待办 / 组内待办) for staff, always through `engine.access.scoping`.

These read the human-task mirror and the application table only; they never deserialize a
workflow. Personal data leaves this module masked. `TaskQuery` is what the inbox page and the
REST API ask for; `parse_task_query` reads it from URL parameters for both.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    bindparam,
    distinct,
    func,
    literal,
    select,
    tuple_,
    union_all,
)

from engine import clock
from engine.access import personal_data, scoping
from engine.access.accounts import Principal
from engine.cases import inbox_index, labels, store
from engine.cases.channels import CHANNELS
from engine.cases.inbox_index import UNDATED
from engine.cases.regions import places
from engine.cases.tasks import task_summary
from engine.cases.workflows import Workflows
from engine.deadlines.due import due_state, entry_overdue_clause
from engine.errors import InvalidData
from engine.models import SavedFilter
from engine.paging import MAX_PER_PAGE, Page
from engine.tables import APPLICATION, INBOX, TASK

SORTS = ("priority", "due", "created", "name")
# Each sort as the inbox index's columns (its indexes serve them per viewer key) and whether it runs
# newest first. The priority order — 绿色通道 first, then the soonest due (the overdue first), then the
# oldest — needs no "overdue" column: a task is overdue exactly when its due time has passed.
SORT_COLUMNS: dict[str, tuple[tuple[Any, ...], bool]] = {
    "priority": ((INBOX.c.green_rank, INBOX.c.due_key, INBOX.c.created_at, INBOX.c.task_id), False),
    "due": ((INBOX.c.due_key, INBOX.c.created_at, INBOX.c.task_id), False),
    "created": ((INBOX.c.created_at, INBOX.c.task_id), True),
    "name": ((INBOX.c.name, INBOX.c.due_key, INBOX.c.task_id), False),
}
COUNT_CAP = 1000  # counted exactly up to here, then "1,000+"
MAX_DEPTH = 5000  # a page number reaches this many tasks deep; further pages follow the 下一页 cursor
MAX_CURSOR = 2000  # characters: a cursor of the name sort carries a task name (up to 200 characters)
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
    supplemented: bool = False  # 补正后待审: tasks back with the applicant's supplement
    due_from: date | None = None
    due_to: date | None = None
    case_no: str = ""
    sort: str = "priority"
    page: int = 1
    per_page: int = 20
    after: str = ""  # the cursor of the page before (下一页), from Page.cursor
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_params(self) -> dict[str, Any]:
        """The query as URL/saved-filter parameters (defaults left out)."""
        defaults = TaskQuery()
        params = {k: getattr(self, k) for k in ("scope", "name", "matter", "channel", "township", "overdue",
                                                  "green_channel", "supplemented", "due_from", "due_to", "case_no",
                                                  "sort")}
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
    size = per_page or read.number("per_page", 20, MAX_PER_PAGE)
    after = read.text("after", MAX_CURSOR)
    query = TaskQuery(
        scope=read.choice("scope", SCOPES, "groups"), name=read.text("name", 50), matter=read.text("matter", 50),
        channel=read.choice("channel", CHANNELS, ""), township=read.text("township", 60),
        overdue=read.flag("overdue"), green_channel=read.flag("green_channel"),
        supplemented=read.flag("supplemented"), due_from=read.day("due_from"),
        due_to=read.day("due_to"), case_no=read.text("case_no", 40), sort=read.choice("sort", SORTS, "priority"),
        page=read.number("page", 1, 10**6), per_page=size, after=after)
    if after and decode_cursor(after, query.sort) is None:
        read.errors["after"] = ["翻页位置无效，已从第一页开始"]
        query.after, query.page = "", 1
    if not query.after and (query.page - 1) * size > MAX_DEPTH:
        read.errors["page"] = [f"页码过大：按页码最多可查看前 {MAX_DEPTH} 项，请缩小筛选范围或逐页翻看"]
        query.page = 1
    if strict and read.errors:
        raise InvalidData("查询参数有误", read.errors)
    query.errors = read.errors
    return query


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, clock.LOCAL_TZ)


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere (its own % _ and / taken literally)."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class _Filter:
    """One filter of the inbox on its index: the column its parameter is typed as, the value a query gives
    it (None: not asked for) and its SQL on that parameter (`f_<name>`), so a page's statements are built
    once per shape (sort, filters, number of keys) and only executed after that."""

    column: Any
    value: Callable[[TaskQuery, datetime], Any]
    clause: Callable[[Any], ColumnElement[bool]]


_FILTERS: dict[str, _Filter] = {
    "name": _Filter(INBOX.c.name, lambda q, now: _like(q.name) if q.name else None,
                    lambda p: INBOX.c.name.like(p, escape="/")),
    "case_no": _Filter(INBOX.c.case_no, lambda q, now: q.case_no or None, lambda p: INBOX.c.case_no == p),
    "matter": _Filter(INBOX.c.matters, lambda q, now: _like(f"|{q.matter}|") if q.matter else None,
                      lambda p: INBOX.c.matters.like(p, escape="/")),
    "channel": _Filter(INBOX.c.channel, lambda q, now: q.channel or None, lambda p: INBOX.c.channel == p),
    "township": _Filter(INBOX.c.township, lambda q, now: q.township or None, lambda p: INBOX.c.township == p),
    "overdue": _Filter(INBOX.c.due_key, lambda q, now: now if q.overdue else None,
                       lambda p: entry_overdue_clause(p, INBOX.c.due_key)),
    "supplemented": _Filter(INBOX.c.supplemented, lambda q, now: True if q.supplemented else None,
                            lambda p: INBOX.c.supplemented == p),
    "green": _Filter(INBOX.c.green_rank, lambda q, now: 0 if q.green_channel else None,
                     lambda p: INBOX.c.green_rank == p),
    "due_from": _Filter(INBOX.c.due_key, lambda q, now: _local_day_start(q.due_from) if q.due_from else None,
                        lambda p: and_(INBOX.c.due_key >= p, INBOX.c.due_key < UNDATED)),
    "due_to": _Filter(INBOX.c.due_key,
                      lambda q, now: _local_day_start(q.due_to + timedelta(days=1)) if q.due_to else None,
                      lambda p: INBOX.c.due_key < p),
}


def _filters(query: TaskQuery, now: datetime) -> dict[str, Any]:
    """The filters the query asks for, by name, with their parameter values."""
    found = {name: f.value(query, now) for name, f in _FILTERS.items()}
    return {name: value for name, value in found.items() if value is not None}


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    """Where the next page starts: the sort values of this page's last task, URL-safe."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps([sort, *plain], ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(text: str, sort: str) -> list[Any] | None:
    """The sort values of a cursor made for `sort`, or None when it is not one (tampered, another sort)."""
    try:
        found = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    columns = SORT_COLUMNS[sort][0]
    if not isinstance(found, list) or len(found) != len(columns) + 1 or found[0] != sort:
        return None
    values: list[Any] = []
    for column, value in zip(columns, found[1:], strict=True):
        if column.name in ("due_key", "created_at"):
            try:
                values.append(clock.aware(datetime.fromisoformat(value)))
            except (TypeError, ValueError):
                return None
        elif column.name == "green_rank" and isinstance(value, int) and not isinstance(value, bool):
            values.append(value)
        elif column.name in ("task_id", "name") and isinstance(value, str):
            values.append(value)
        else:
            return None
    return values


def _after(columns: tuple[Any, ...], newest_first: bool) -> ColumnElement[bool]:
    """SQL: the row sorts after the cursor's values (parameters c0, c1, …; a row-value comparison the
    indexes serve)."""
    bound = tuple_(*(store.typed_param(f"c{i}", c) for i, c in enumerate(columns)))
    return tuple_(*columns) < bound if newest_first else tuple_(*columns) > bound


@dataclass(frozen=True)
class _Statements:
    """The statements of one shape of page: the capped count and the page's task ids in order."""

    count: Any
    page: Any


_EXCLUDED = INBOX.alias("excluded")
_SHAPES: dict[tuple[Any, ...], _Statements] = {}
MAX_SHAPES = 512


def _statements(sort: str, filters: tuple[str, ...], keys: int, after: bool) -> _Statements:
    """The statements of a page of this shape, built once.

    The page reads each viewer key as one index range in the page's order, at most `depth` deep, and
    merges them in SQL (so the database's own collation orders names); with a case number the case's
    few entries are read through their own index instead. The count reads at most COUNT_CAP + 1
    entries per key: a task is filed once per key, so it either reads them all (the distinct count is
    exact) or finds more than COUNT_CAP distinct tasks."""
    shape = (sort, filters, keys, after, COUNT_CAP)
    found = _SHAPES.get(shape)
    if found is not None:
        return found
    columns, newest_first = SORT_COLUMNS[sort]
    where = [_FILTERS[name].clause(store.typed_param(f"f_{name}", _FILTERS[name].column)) for name in filters]
    # A complaint about this user is filed under their exclusion key (`scoping.entry_keys`): leave it out.
    where.append(INBOX.c.task_id.not_in(select(_EXCLUDED.c.task_id).where(
        _EXCLUDED.c.viewer == bindparam("excluded", type_=INBOX.c.viewer.type))))
    order = [c.desc() for c in columns] if newest_first else list(columns)
    ranged = [*where, *([_after(columns, newest_first)] if after else [])]
    viewers = [bindparam(f"k{i}", type_=INBOX.c.viewer.type) for i in range(keys)]
    depth = bindparam("depth", type_=Integer())
    if "case_no" in filters or keys == 1:
        page = select(INBOX.c.task_id, *columns).where(INBOX.c.viewer.in_(viewers), *ranged) \
            .order_by(*order).limit(depth * keys)
    else:
        ranges = [select(INBOX.c.task_id, *columns).where(INBOX.c.viewer == viewer, *ranged)
                  .order_by(*order).limit(depth).subquery() for viewer in viewers]
        merged = union_all(*(select(*r.c) for r in ranges)).subquery()
        page = select(*merged.c).order_by(*(merged.c[c.name].desc() if newest_first else merged.c[c.name]
                                            for c in columns))
    cap = bindparam("cap", type_=Integer())
    if keys == 1:
        inner = select(literal(1).label("one")).where(INBOX.c.viewer == viewers[0], *where).limit(cap)
        count = select(func.count()).select_from(inner.subquery())
    else:
        limited = select(INBOX.c.task_id).where(INBOX.c.viewer.in_(viewers), *where).limit(cap * keys).subquery()
        count = select(func.count(distinct(limited.c.task_id)))
    if len(_SHAPES) >= MAX_SHAPES:
        _SHAPES.clear()
    return _SHAPES.setdefault(shape, _Statements(count, page))


def _read_page(conn: Connection, keys: list[str], excluded: str, query: TaskQuery, now: datetime,
               cursor: list[Any] | None) -> tuple[int, bool, list[str], str | None]:
    """(total, capped, the page's task ids in order, the next page's cursor or None)."""
    filters = _filters(query, now)
    statements = _statements(query.sort, tuple(filters), len(keys), cursor is not None)
    params: dict[str, Any] = {f"f_{name}": value for name, value in filters.items()}
    params.update({f"k{i}": key for i, key in enumerate(keys)}, excluded=excluded)
    params.update({f"c{i}": value for i, value in enumerate(cursor or [])})
    found = int(conn.execute(statements.count, {**params, "cap": COUNT_CAP + 1}).scalar_one())
    offset = 0 if cursor is not None else (query.page - 1) * query.per_page
    seen: dict[str, tuple[Any, ...]] = {}
    for row in conn.execute(statements.page, {**params, "depth": offset + query.per_page + 1}):
        seen.setdefault(row[0], tuple(row)[1:])  # a task under several keys is kept once
    ordered = list(seen.items())[offset:offset + query.per_page + 1]
    page, more = ordered[:query.per_page], len(ordered) > query.per_page
    next_cursor = encode_cursor(query.sort, page[-1][1]) if more and page else None
    return min(found, COUNT_CAP), found > COUNT_CAP, [task_id for task_id, _values in page], next_cursor


_DETAILS = select(*store.TASK_COLUMNS, APPLICATION.c.channel, APPLICATION.c.township, APPLICATION.c.village,
                  APPLICATION.c.green_channel, APPLICATION.c.applicant_name, APPLICATION.c.matters,
                  APPLICATION.c.request).select_from(
    # Outer: tasks of processes started by key (LC…) have no application behind them.
    TASK.join(APPLICATION, APPLICATION.c.case_no == TASK.c.case_no, isouter=True)).where(
    TASK.c.id.in_(bindparam("ids", expanding=True)))


class Inbox:
    """The task lists of staff (`CaseEngine.inbox`) and their saved filters."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows
        self.reference = workflows.settings.reference

    def tasks(self, principal: Principal, query: TaskQuery) -> Page[dict[str, Any]]:
        """One page of the open tasks this user may see, with the case at a glance and the due state.

        Read from the inbox index: one range per viewer key of the user (`scoping.inbox_keys`), a count
        capped at COUNT_CAP, the page's tasks by id."""
        scoping.require(principal, "work_tasks")
        now = clock.now()
        calendar = self.workflows.calendar
        keys = scoping.inbox_keys(principal, mine=query.scope == "mine")
        cursor = decode_cursor(query.after, query.sort) if query.after else None

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

        if not keys:
            return Page([], 0, query.page, query.per_page, more=False)
        with self.workflows.reading() as session:
            conn = session.connection()
            total, capped, ids, next_cursor = _read_page(conn, keys, scoping.excluded_key(principal), query, now,
                                                         cursor)
            found = {r.id: r for r in conn.execute(_DETAILS, {"ids": ids})} if ids else {}
            items = [row(found[i]) for i in ids if i in found]
            self._name(session, items)
        return Page(items, total, query.page, query.per_page, capped=capped, cursor=next_cursor,
                    more=next_cursor is not None)

    def rebuild(self) -> int:
        """Refile every open task of every open case in the inbox index; return how many were filed."""
        with self.workflows.transaction() as session:
            return inbox_index.rebuild_all(session.connection())

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
        with self.workflows.reading() as session:
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
