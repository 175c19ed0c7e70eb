"""The human-task mirror and the case event log, kept in step with the workflow state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine import clock
from engine.access.scoping import EXCLUDED_USER
from engine.bpmn.definitions import LoadedDefinition
from engine.bpmn.forms import FormLibrary
from engine.bpmn.usertasks import STARTER, UserTaskMeta, due_from_value, expression_of
from engine.cases import store
from engine.cases.store import InstanceState
from engine.deadlines.due import is_overdue
from engine.deadlines.policy import DueTimePolicy
from engine.deadlines.workcal import WorkCalendar
from engine.status import READY, USER_GROUP

# Task data worth copying onto the mirror row: it decides who may see the task (scoping).
# `supplement`: the applicant's last 补正 (its files are marked new on the reviewer's page); `excluded_user`:
# the person a complaint is about, who never sees or works its tasks
CONTEXT_KEYS = ("department", "field_work", "region", "green_channel", "channel", "supplement", EXCLUDED_USER)


def record(session: Session, case_no: str, type_: str, actor: str, at: datetime,
           task_id: str | None = None, task_name: str | None = None, data: dict[str, Any] | None = None) -> None:
    """Queue one entry for the case's event log; `write_events` inserts the queue in order."""
    session.info.setdefault("events", []).append({
        "case_no": case_no, "type": type_, "actor": actor, "at": at, "data": data or {},
        "task_id": task_id, "task_name": task_name})


def write_events(session: Session) -> None:
    """Insert the queued events in one statement (called just before commit)."""
    store.insert_events(session.connection(), session.info.pop("events", []))


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Task]:
    """Return the READY manual tasks of a workflow and its subprocesses, in tree order."""
    # Plain dict scans: SpiffWorkflow's depth-tracking task iterator costs more than the step itself.
    workflows = [workflow, *workflow.subprocesses.values()]
    return [t for wf in workflows for t in wf.tasks.values() if t.state == TaskState.READY and t.task_spec.manual]


def resolve_groups(workflow: BpmnWorkflow, task: Task, groups: Iterable[str]) -> list[str]:
    """Turn candidate groups, `${expr}` ones evaluated in the sandbox, into group codes."""
    resolved: list[str] = []
    for group in groups:
        expression = expression_of(group)
        if expression is None:
            resolved.append(group)
            continue
        value = workflow.script_engine.evaluate(task, expression)
        values = value if isinstance(value, list | tuple | set) else [value]
        resolved.extend(str(v) for v in values if v not in (None, ""))
    return list(dict.fromkeys(resolved))


def assignment(workflow: BpmnWorkflow, task: Task, meta: UserTaskMeta) -> tuple[list[str], str | None]:
    """The candidate groups (candidate users as `user:<name>`) and the assignee of a new task. A task
    naming no one goes to the staff user who started the process, else to the process's default group."""
    groups = resolve_groups(workflow, task, meta.candidate_groups)
    groups += [f"{USER_GROUP}{name}" for name in resolve_groups(workflow, task, meta.candidate_users)]
    assignee = next(iter(resolve_groups(workflow, task, [meta.assignee])), None) if meta.assignee else None
    if meta.unassigned:
        starter = workflow.data.get(STARTER)
        if isinstance(starter, str) and starter:
            assignee = starter
            groups.append(f"{USER_GROUP}{starter}")
        elif meta.default_group:
            groups.append(meta.default_group)
    return list(dict.fromkeys(groups)), assignee


class TaskMirror:
    """Writes the READY user tasks of one instance into `human_task` and cancels vanished ones."""

    def __init__(self, session: Session, instance: InstanceState, loaded: LoadedDefinition,
                 calendar: WorkCalendar, policy: DueTimePolicy, forms: FormLibrary):
        self.session, self.instance, self.loaded, self.calendar = session, instance, loaded, calendar
        self.policy, self.forms = policy, forms

    def sync(self, workflow: BpmnWorkflow, actor: str, at: datetime) -> list[Mapping[str, Any]]:
        """Insert newly READY user tasks, cancel rows whose task went away; return the open rows."""
        conn = self.session.connection()
        ready = {str(t.id): t for t in ready_user_tasks(workflow)}
        existing = store.open_tasks_of_instance(conn, self.instance.id)
        gone = [task_id for task_id in existing if task_id not in ready]
        store.cancel_tasks(conn, gone, at)
        for task_id in gone:
            record(self.session, self.instance.case_no, "task_cancelled", actor, at, task_id,
                   existing[task_id]["name"])
        created = [self._row(workflow, task, at) for task_id, task in ready.items() if task_id not in existing]
        store.insert_tasks(conn, created, self.instance.status)
        for row in created:
            record(self.session, self.instance.case_no, "task_created", "system", at, row["id"], row["name"],
                   {"candidate_groups": row["candidate_groups"], "due_at": _iso(row["due_at"])})
        still_open = [row for task_id, row in existing.items() if task_id in ready]
        return sorted([*still_open, *created], key=store.open_order)

    def _row(self, workflow: BpmnWorkflow, task: Task, at: datetime) -> dict[str, Any]:
        meta = self.loaded.model.task_meta(task.workflow.spec.name, task.task_spec.bpmn_id)
        name = meta.name if meta else (task.task_spec.bpmn_name or task.task_spec.name)
        groups, assignee = assignment(workflow, task, meta) if meta else ([], None)
        return {
            "id": str(task.id), "instance_id": self.instance.id, "case_no": self.instance.case_no,
            "task_spec": task.task_spec.bpmn_id, "name": name, "form_key": meta.form_key if meta else "",
            "candidate_groups": groups, "context": self._context(task, meta),
            "assignee": assignee, "state": READY, "created_at": at,
            "due_at": self._due_at(workflow, task, meta, at) if meta else None,
            "completed_at": None, "completed_by": None, "data": None,
        }

    def _context(self, task: Task, meta: UserTaskMeta | None) -> dict[str, Any]:
        """What scoping needs, and the values the form starts with (fields marked `x-prefill` in the
        form file name the case data they take, e.g. the departments the center chose); the generic
        form's choices (the outgoing flows of the gateway after the task)."""
        form_key = meta.form_key if meta else ""
        context: dict[str, Any] = {k: task.data[k] for k in CONTEXT_KEYS if k in task.data}
        if meta is not None and meta.choices:
            context["choices"] = list(meta.choices)
        schema = self.forms.schema_or_none(form_key) if form_key else None
        prefill = {name: task.data[spec["x-prefill"]]
                   for name, spec in (schema or {}).get("properties", {}).items()
                   if isinstance(spec, dict) and spec.get("x-prefill") in task.data}
        if prefill:
            context["prefill"] = prefill
        return context

    def _due_at(self, workflow: BpmnWorkflow, task: Task, meta: UserTaskMeta, at: datetime) -> datetime | None:
        """The due moment of a new task: dueWorkdays on the working-day calendar (green-channel cases,
        绿色通道 R-6.3.5, get less time), or camunda:dueDate — a date, a duration from now, an expression."""
        if meta.due_workdays is not None:
            workdays = self.policy.due_workdays(meta.due_workdays, bool(task.data.get("green_channel")))
            return self.calendar.add_workdays(at, workdays)
        if not meta.due_date:
            return None
        expression = expression_of(meta.due_date)
        value: Any = workflow.script_engine.evaluate(task, expression) if expression else meta.due_date
        due = due_from_value(value, at)
        if due is None:
            raise ValueError(f"办理期限 {meta.due_date} 的值 {value!r} 不是日期、时长或 ISO 8601 文本")
        return clock.local_aware(due)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def task_summary(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Return the fields the task list shows (CLI, API, inbox); `overdue` as `engine.deadlines.due` says."""
    due = row["due_at"]
    return {
        "id": row["id"], "case_no": row["case_no"], "name": row["name"], "form_key": row["form_key"],
        "candidate_groups": list(row["candidate_groups"]), "assignee": row["assignee"],
        "created_at": _iso(row["created_at"]), "due_at": _iso(due),
        "overdue": bool(row["state"] == READY and is_overdue(due, now, row.get("overdue_since"))),
    }
