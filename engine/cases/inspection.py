"""Process-instance inspection (流程实例监控) for administrators: the list, one instance, the heat map.

Everything here reads: the list from the instance, application and human-task tables (never
deserializing workflows), one instance from its restored workflow (for what is done, active
and errored on the diagram), and the heat view from completed human tasks over a period.
Queries are scoped with `scoping.case_filter` like every other case query; personal data is
masked (R-8 / DOMAIN personal-data masking) — the instance page never shows it in full.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.engine import Connection

from engine.access import personal_data, scoping
from engine.access.accounts import Principal
from engine.bpmn.definitions import LoadedDefinition
from engine.cases.admin import STATUS_NAMES, workflow_tasks
from engine.cases.casefile import local_time
from engine.cases.intake import CASE_PREFIX, LOCAL_TZ
from engine.cases.store import COMPLETED, DEFINITION, INSTANCE, READY, TASK

APPLICATION = scoping.APPLICATION
# The list's status filter speaks of what an administrator looks for; each maps to stored statuses.
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "running": ("open",), "completed": ("closed_completed",), "declined": ("closed_declined",),
    "suspended": ("suspended",), "error": ("error",), "terminated": ("terminated",),
}
# Keys whose values are personal data wherever they appear in workflow or task data.
_MASKERS = {
    "id_number": personal_data.mask_id_number, "phone": personal_data.mask_phone,
    "mobile": personal_data.mask_phone, "address": personal_data.mask_address,
    "applicant_name": personal_data.mask_name, "name_of_applicant": personal_data.mask_name,
}
MAX_TEXT = 100
FULL_CASE_NO = re.compile(rf"{CASE_PREFIX}\d{{12}}")


@dataclass
class InstanceQuery:
    """Filters of the instance list; empty means 'any'."""

    case_no: str = ""
    applicant: str = ""  # part of the applicant's name
    status: str = ""
    version: int | None = None
    task: str = ""
    overdue: str = ""  # "yes" | "no" | ""
    started_from: datetime | None = None
    started_to: datetime | None = None
    ended_from: datetime | None = None
    ended_to: datetime | None = None
    page: int = 1
    per_page: int = 20


def mask_data(value: Any) -> Any:
    """A copy of workflow/task data with personal data masked wherever its key names it."""
    if isinstance(value, Mapping):
        return {k: (_MASKERS[k](str(v)) if k in _MASKERS and isinstance(v, str) else mask_data(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_data(v) for v in value]
    return value


def _overdue_clause(now: datetime) -> Any:
    return exists(select(TASK.c.id).where(TASK.c.instance_id == INSTANCE.c.id, TASK.c.state == READY,
                                          TASK.c.due_at < now))


def _where(principal: Principal, query: InstanceQuery, now: datetime) -> list[Any]:
    clauses: list[Any] = [scoping.case_filter(principal)]
    if FULL_CASE_NO.fullmatch(query.case_no):
        clauses.append(INSTANCE.c.case_no == query.case_no)  # a whole number: the unique index
    elif query.case_no:
        clauses.append(INSTANCE.c.case_no.contains(query.case_no[:MAX_TEXT]))
    if query.applicant:
        # Administrators find a person's cases by name (the list still shows it masked). Not by ID
        # number: the filter travels in the URL, and URLs end up in logs.
        clauses.append(APPLICATION.c.applicant_name.contains(query.applicant[:MAX_TEXT]))
    if query.status in STATUS_FILTERS:
        clauses.append(INSTANCE.c.status.in_(STATUS_FILTERS[query.status]))
    if query.version is not None:
        clauses.append(DEFINITION.c.version == query.version)
    if query.task:
        clauses.append(exists(select(TASK.c.id).where(TASK.c.instance_id == INSTANCE.c.id, TASK.c.state == READY,
                                                      TASK.c.name.contains(query.task[:MAX_TEXT]))))
    if query.overdue == "yes":
        clauses.append(_overdue_clause(now))
    elif query.overdue == "no":
        clauses.append(~_overdue_clause(now))
    for column, low, high in ((INSTANCE.c.started_at, query.started_from, query.started_to),
                              (INSTANCE.c.ended_at, query.ended_from, query.ended_to)):
        if low is not None:
            clauses.append(column >= low)
        if high is not None:
            clauses.append(column < high)
    return clauses


def list_instances(conn: Connection, principal: Principal, query: InstanceQuery,
                   now: datetime) -> tuple[list[dict[str, Any]], int]:
    """One page of instances matching `query` within the user's scope, newest first, and the total."""
    joined = INSTANCE.join(APPLICATION, APPLICATION.c.case_no == INSTANCE.c.case_no) \
        .join(DEFINITION, DEFINITION.c.id == INSTANCE.c.definition_id)
    where = and_(*_where(principal, query, now))
    total = conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
    rows = conn.execute(
        select(INSTANCE.c.id, INSTANCE.c.case_no, INSTANCE.c.status, INSTANCE.c.started_at, INSTANCE.c.ended_at,
               DEFINITION.c.key, DEFINITION.c.version, APPLICATION.c.applicant_name, APPLICATION.c.green_channel)
        .select_from(joined).where(where)
        .order_by(INSTANCE.c.started_at.desc(), INSTANCE.c.id.desc())
        .limit(query.per_page).offset((max(query.page, 1) - 1) * query.per_page)).all()
    open_tasks = _open_tasks_of(conn, [r.id for r in rows])
    result = []
    for r in rows:
        tasks = open_tasks.get(r.id, [])
        result.append({
            "case_no": r.case_no, "status": r.status, "status_label": STATUS_NAMES.get(r.status, r.status),
            "key": r.key, "version": r.version, "applicant": personal_data.mask_name(r.applicant_name),
            "green_channel": r.green_channel, "started_at": r.started_at, "ended_at": r.ended_at,
            "current_tasks": sorted({t["name"] for t in tasks}),
            "overdue": any(t["due_at"] is not None and t["due_at"] < now for t in tasks),
        })
    return result, int(total)


def _open_tasks_of(conn: Connection, instance_ids: Sequence[int]) -> dict[int, list[Mapping[str, Any]]]:
    if not instance_ids:
        return {}
    found: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in conn.execute(select(TASK.c.instance_id, TASK.c.name, TASK.c.due_at)
                            .where(TASK.c.instance_id.in_(instance_ids), TASK.c.state == READY)):
        found[row.instance_id].append({"name": row.name, "due_at": row.due_at})
    return found


# -- one instance on its diagram ------------------------------------------------------------------


def _tasks_by_element(workflow: BpmnWorkflow, elements: set[str]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    tasks = [t for t in workflow_tasks(workflow) if t.task_spec.bpmn_id in elements]
    # A multi-instance activity runs one child per department beside its own parent task;
    # where children exist only they are counted (the parent would be one token too many).
    with_children = {t.task_spec.bpmn_id for t in tasks if t.task_spec.name != t.task_spec.bpmn_id}
    for task in tasks:
        element = task.task_spec.bpmn_id
        if element in with_children and task.task_spec.name == element:
            continue
        if task.has_state(TaskState.ERROR):
            counts[element]["error"] += 1
        elif task.has_state(TaskState.COMPLETED):
            counts[element]["done"] += 1
        elif task.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            counts[element]["active"] += 1
    return counts


def diagram_overlays(workflow: BpmnWorkflow, loaded: LoadedDefinition,
                     open_rows: Sequence[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Overlays for the instance diagram: one per element — errored, else active, else completed.

    An element with one open user task shows its assignee (or 待认领) and due time; with several
    (the departments' steps) it counts them, e.g. "办理中 2 · 已完成 1"; the title lists each.
    """
    elements = set(loaded.model.element_names)
    counts = _tasks_by_element(workflow, elements)
    rows_by_element: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in open_rows:
        rows_by_element[row["task_spec"]].append(row)
    overlays = []
    for element, count in sorted(counts.items()):
        kind = "error" if count["error"] else "active" if count["active"] else "done"
        parts = []
        if count["error"]:
            parts.append(f"出错 {count['error']}")
        rows = rows_by_element.get(element, [])
        if count["active"] and len(rows) == 1:
            # One open user task: who holds it and until when, on the diagram itself.
            due = rows[0]["due_at"]
            late = "，已超期" if due is not None and due < now else ""
            parts.append(f"{rows[0]['assignee'] or '待认领'} · 时限 {_short(due)}{late}")
        elif count["active"]:
            parts.append(f"办理中 {count['active']}" if count["active"] > 1 else "办理中")
        if count["done"]:
            parts.append(f"已完成 {count['done']}" if count["done"] > 1 or parts else "✓")
        title = [loaded.model.element_names.get(element, element)]
        for row in rows:
            due = row["due_at"]
            late = "（已超期）" if due is not None and due < now else ""
            title.append(f"{row['assignee'] or '待认领'}；时限 {_local(due)}{late}")
        overlays.append({"id": element, "kind": kind, "label": " · ".join(parts), "title": "\n".join(title)})
    return overlays


def _short(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M") if moment is not None else "无"


def _local(moment: datetime | None) -> str:
    return local_time(moment) or "无"


def human_tasks(conn: Connection, case_no: str) -> list[dict[str, Any]]:
    """Every mirrored user task of a case with its (masked) submitted data, oldest first."""
    rows = conn.execute(select(TASK).where(TASK.c.case_no == case_no).order_by(TASK.c.created_at, TASK.c.id))
    return [{"id": r.id, "task_spec": r.task_spec, "name": r.name, "form_key": r.form_key, "state": r.state,
             "assignee": r.assignee, "candidate_groups": list(r.candidate_groups or []),
             "department": (r.context or {}).get("department"), "created_at": r.created_at, "due_at": r.due_at,
             "completed_at": r.completed_at, "completed_by": r.completed_by, "data": mask_data(r.data or {})}
            for r in rows]


# -- the definition-level heat view ---------------------------------------------------------------


def _hours_taken(dialect: str) -> Any:
    """SQL for a task's hours from creation to completion, as a number (no datetime per row)."""
    if dialect == "postgresql":
        return func.extract("epoch", TASK.c.completed_at - TASK.c.created_at) / 3600.0
    # SQLite keeps naive UTC text; julianday() reads it as days.
    return (func.julianday(TASK.c.completed_at) - func.julianday(TASK.c.created_at)) * 24.0


def p90(values: Sequence[float]) -> float:
    """The 90th percentile (inclusive method, as spreadsheets compute it); the value itself for one."""
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=10, method="inclusive")[8])


def definition_heat(conn: Connection, loaded: LoadedDefinition, since: datetime, until: datetime,
                    all_versions: bool = False) -> list[dict[str, Any]]:
    """Per user task of a definition: tasks completed in [since, until), average and P90 hours, open now.

    With `all_versions` the figures include every version of the process (matched by element
    id), so a bottleneck can be followed across redeployments.
    """
    of_definition: ColumnElement[bool]
    if all_versions:
        ids = select(DEFINITION.c.id).where(DEFINITION.c.key == loaded.key).scalar_subquery()
        of_definition = INSTANCE.c.definition_id.in_(ids)
    else:
        of_definition = INSTANCE.c.definition_id == loaded.id
    joined = TASK.join(INSTANCE, INSTANCE.c.id == TASK.c.instance_id)
    done = conn.execute(select(TASK.c.task_spec, _hours_taken(conn.dialect.name)).select_from(joined).where(
        of_definition, TASK.c.state == COMPLETED, TASK.c.completed_at >= since, TASK.c.completed_at < until)).all()
    active: dict[str, int] = dict(conn.execute(select(TASK.c.task_spec, func.count()).select_from(joined).where(
        of_definition, TASK.c.state == READY, INSTANCE.c.status == "open").group_by(TASK.c.task_spec)).all())
    by_element: dict[str, list[float]] = defaultdict(list)
    for task_spec, hours_taken in done:
        if hours_taken is not None:
            by_element[task_spec].append(float(hours_taken))
    result = []
    for element, meta in loaded.model.user_tasks.items():
        hours = by_element.get(element, [])
        result.append({"id": element, "name": meta.name, "completed": len(hours),
                       "avg_hours": round(statistics.fmean(hours), 2) if hours else None,
                       "p90_hours": round(p90(hours), 2) if hours else None,
                       "active": int(active.get(element, 0))})
    return result


def _duration(hours: float | None) -> str:
    if hours is None:
        return "—"
    return f"{hours / 24:.1f}天" if hours >= 24 else f"{hours:.1f}小时"


def heat_overlays(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Heat overlays: the level is each task's average time over the slowest average (0..1)."""
    slowest = max((r["avg_hours"] or 0 for r in rows), default=0)
    overlays = []
    for r in rows:
        level = (r["avg_hours"] or 0) / slowest if slowest else 0
        label = f"均{_duration(r['avg_hours'])} · P90 {_duration(r['p90_hours'])} · 在办 {r['active']}"
        overlays.append({"id": r["id"], "kind": "heat", "level": round(level, 3), "label": label,
                         "title": f"{r['name']}：完成 {r['completed']} 件"})
    return overlays
