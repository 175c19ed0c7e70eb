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

from engine import clock, status
from engine.access import personal_data, scoping
from engine.access.accounts import Principal
from engine.bpmn.definitions import LoadedDefinition, definitions_of
from engine.cases import labels, store
from engine.cases.admin import InstanceAdmin, errored_steps
from engine.cases.casefile import CaseFiles, assignee_choices
from engine.cases.casefile import tasks_of_case as store_tasks
from engine.cases.intake import CASE_PREFIX
from engine.cases.workflows import Workflows, workflow_tasks
from engine.deadlines.due import due_state, is_overdue, overdue_clause
from engine.errors import NotFound
from engine.models import ProcessDefinition
from engine.paging import Page, paginate
from engine.status import COMPLETED, LINKAGE_PROCESS, OPEN, READY
from engine.tables import APPLICATION, DEFINITION, INSTANCE, TASK

MAX_TEXT = 100
FULL_CASE_NO = re.compile(rf"{CASE_PREFIX}\d{{12}}")


@dataclass
class InstanceQuery:
    """Filters of the instance list; empty means 'any'."""

    key: str = LINKAGE_PROCESS
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


def _overdue_clause(now: datetime) -> Any:
    return exists(select(TASK.c.id).where(TASK.c.instance_id == INSTANCE.c.id, TASK.c.state == READY,
                                          overdue_clause(now)))


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
    if query.status in status.FILTERS:
        clauses.append(INSTANCE.c.status.in_(status.FILTERS[query.status][1]))
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


def list_instances(conn: Connection, principal: Principal, query: InstanceQuery, now: datetime) -> Page[dict[str, Any]]:
    """One page of instances matching `query` within the user's scope, newest first, and the total."""
    joined = INSTANCE.join(APPLICATION, APPLICATION.c.case_no == INSTANCE.c.case_no) \
        .join(DEFINITION, DEFINITION.c.id == INSTANCE.c.definition_id)
    where = and_(*_where(principal, query, now))
    statement = (select(INSTANCE.c.id, INSTANCE.c.case_no, INSTANCE.c.status, INSTANCE.c.started_at,
                        INSTANCE.c.ended_at, DEFINITION.c.key, DEFINITION.c.version, APPLICATION.c.applicant_name,
                        APPLICATION.c.green_channel)
                 .select_from(joined).where(where).order_by(INSTANCE.c.started_at.desc(), INSTANCE.c.id.desc()))
    found = paginate(conn, statement, query.page, query.per_page, lambda r: r,
                     count=select(func.count()).select_from(joined).where(where))
    open_tasks = _open_tasks_of(conn, [r.id for r in found.items])
    result = []
    for r in found.items:
        tasks = open_tasks.get(r.id, [])
        result.append({
            "case_no": r.case_no, "status": r.status, "status_label": status.label(r.status),
            "key": r.key, "version": r.version, "applicant": personal_data.mask_name(r.applicant_name),
            "green_channel": r.green_channel, "started_at": r.started_at, "ended_at": r.ended_at,
            "current_tasks": sorted({t["name"] for t in tasks}),
            "overdue": any(is_overdue(t["due_at"], now, t["overdue_since"]) for t in tasks),
        })
    return Page(result, found.total, found.page, found.per_page)


def _open_tasks_of(conn: Connection, instance_ids: Sequence[int]) -> dict[int, list[Mapping[str, Any]]]:
    if not instance_ids:
        return {}
    found: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in conn.execute(select(TASK.c.instance_id, TASK.c.name, TASK.c.due_at, TASK.c.overdue_since)
                            .where(TASK.c.instance_id.in_(instance_ids), TASK.c.state == READY)):
        found[row.instance_id].append({"name": row.name, "due_at": row.due_at, "overdue_since": row.overdue_since})
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


def diagram_overlays(workflow: BpmnWorkflow, loaded: LoadedDefinition, open_rows: Sequence[Mapping[str, Any]],
                     now: datetime, names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Overlays for the instance diagram: one per element — errored, else active, else completed.

    An element with one open user task shows its assignee (or 待认领) and due time; with several
    (the departments' steps) it counts them, e.g. "办理中 2 · 已完成 1"; the title lists each.
    """
    names = names or {}
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
            late = "，已超期" if is_overdue(due, now, rows[0].get("overdue_since")) else ""
            holder = rows[0]["assignee"]
            parts.append(f"{names.get(holder, holder) if holder else '待认领'} · 时限 {_short(due)}{late}")
        elif count["active"]:
            parts.append(f"办理中 {count['active']}" if count["active"] > 1 else "办理中")
        if count["done"]:
            parts.append(f"已完成 {count['done']}" if count["done"] > 1 or parts else "✓")
        title = [loaded.model.element_names.get(element, element)]
        for row in rows:
            due = row["due_at"]
            late = "（已超期）" if is_overdue(due, now, row.get("overdue_since")) else ""
            holder = row["assignee"]
            title.append(f"{names.get(holder, holder) if holder else '待认领'}；时限 {_local(due)}{late}")
        overlays.append({"id": element, "kind": kind, "label": " · ".join(parts), "title": "\n".join(title)})
    return overlays


def _short(moment: datetime | None) -> str:
    return clock.local_text(moment, "%m-%d %H:%M") or "无"


def _local(moment: datetime | None) -> str:
    return clock.local_text(moment) or "无"


def human_tasks(conn: Connection, case_no: str) -> list[dict[str, Any]]:
    """Every mirrored user task of a case with its (masked) submitted data, oldest first."""
    rows = conn.execute(select(TASK).where(TASK.c.case_no == case_no).order_by(TASK.c.created_at, TASK.c.id))
    return [{"id": r.id, "task_spec": r.task_spec, "name": r.name, "form_key": r.form_key, "state": r.state,
             "assignee": r.assignee, "candidate_groups": list(r.candidate_groups or []),
             "department": (r.context or {}).get("department"), "created_at": r.created_at, "due_at": r.due_at,
             "completed_at": r.completed_at, "completed_by": r.completed_by,
             "data": personal_data.mask_data(r.data or {})}
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
        of_definition, TASK.c.state == READY, INSTANCE.c.status == OPEN).group_by(TASK.c.task_spec)).all())
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


class Inspection:
    """What the administrators' instance pages read (`CaseEngine.inspection`), each call one transaction."""

    def __init__(self, workflows: Workflows, files: CaseFiles, admin: InstanceAdmin):
        self.workflows, self.files, self.admin = workflows, files, admin

    def instances(self, principal: Principal, query: InstanceQuery) -> Page[dict[str, Any]]:
        """One page of the instance list; the page's `extra["versions"]` are the process's versions."""
        scoping.require(principal, "inspect")
        with self.workflows.transaction() as session:
            conn = session.connection()
            found = list_instances(conn, principal, query, clock.now())
            versions = [d.version for d in definitions_of(session, query.key)]
        found.extra["versions"] = versions
        return found

    def instance(self, principal: Principal, case_no: str) -> dict[str, Any]:
        """One instance: its definition's diagram with overlays, tasks, masked data, history, what it allows."""
        scoping.require(principal, "inspect")
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            instance = self.workflows.visible_case(session, principal, case_no)
            loaded = self.workflows.specs.get_by_id(session, instance.definition_id)
            xml = session.get_one(ProcessDefinition, instance.definition_id).xml
            open_rows = store.open_tasks(conn, case_no=case_no)
            tasks = human_tasks(conn, case_no)
            history = self.files.history.entries(session, case_no, store_tasks(session, case_no))
            applicant = self.files.glance(session, case_no)["applicant"]
            workflow = self.workflows.restore(instance, loaded)
            people = labels.actor_names(session, [t["assignee"] for t in tasks] + [t["completed_by"] for t in tasks]
                                        + [r["assignee"] for r in open_rows])
            assignable = {row["id"]: assignee_choices(session, row) for row in open_rows}
        migration = self.admin.migration_checks(case_no)
        reference = self.workflows.settings.reference
        calendar = self.workflows.calendar
        shown_rows = [{**row, "department_name": reference.department_name((row["context"] or {}).get("department")),
                       "assignee_name": people.get(row["assignee"] or "", row["assignee"]),
                       "due": due_state(row["due_at"], now, calendar, row.get("overdue_since"))} for row in open_rows]
        for task in tasks:
            task["department_name"] = reference.department_name(task["department"])
            task["state_label"] = status.task_state_label(task["state"])
            task["assignee_name"] = people.get(task["assignee"] or "", task["assignee"])
            task["completed_by_name"] = people.get(task["completed_by"] or "", task["completed_by"])
        return {
            "case_no": case_no, "instance": instance, "status_label": status.label(instance.status),
            "can": status.allowed_actions(instance.status), "key": loaded.key, "version": loaded.version, "xml": xml,
            "overlays": diagram_overlays(workflow, loaded, open_rows, now, people), "open_rows": shown_rows,
            "tasks": tasks,
            "history": history, "applicant": applicant, "assignable": assignable, "migration": migration,
            "workflow_data": personal_data.mask_data(workflow.data),
            "errored": [{**t, "data": personal_data.mask_data(t["data"])} for t in errored_steps(workflow)],
        }

    def heat(self, principal: Principal, key: str, version: int | None, since: datetime, until: datetime,
             all_versions: bool = False) -> dict[str, Any]:
        """The heat view of one version of `key` (the newest unless `version`): per user task, the figures."""
        scoping.require(principal, "heat")
        with self.workflows.transaction() as session:
            versions = definitions_of(session, key)
            wanted = version or (versions[0].version if versions else 0)
            definition = next((v for v in versions if v.version == wanted), None)
            if definition is None:
                raise NotFound(f"流程 {key} 没有该版本")
            loaded = self.workflows.specs.get(definition)
            rows = definition_heat(session.connection(), loaded, since, until, all_versions)
            return {"key": key, "version": definition.version, "versions": [v.version for v in versions],
                    "rows": rows, "overlays": heat_overlays(rows), "xml": definition.xml}
