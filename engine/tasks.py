"""The human-task mirror and the case event log, kept in step with the workflow state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.definitions import LoadedDefinition
from engine.loader import group_expression
from engine.models import CaseEvent, HumanTask, HumanTaskGroup, ProcessInstance
from engine.workcal import WorkCalendar

READY, COMPLETED, CANCELLED = "READY", "COMPLETED", "CANCELLED"
# Task data worth copying onto the mirror row: it decides who may see the task (scoping).
CONTEXT_KEYS = ("department", "field_work", "region", "green_channel", "channel")


def record(session: Session, case_no: str, type_: str, actor: str, at: datetime,
           task: HumanTask | None = None, data: dict[str, Any] | None = None) -> None:
    """Queue one entry for the case's event log; `write_events` inserts the queue in order."""
    session.info.setdefault("events", []).append({
        "case_no": case_no, "type": type_, "actor": actor, "at": at, "data": data or {},
        "task_id": task.id if task else None, "task_name": task.name if task else None})


def write_events(session: Session) -> None:
    """Insert the queued events in one statement (called just before commit)."""
    events = session.info.pop("events", [])
    if events:
        session.execute(insert(CaseEvent.__table__), events)  # type: ignore[arg-type]  # Core: one statement shape


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Task]:
    """Return the READY manual tasks of a workflow and its subprocesses, in tree order."""
    # Plain dict scans: SpiffWorkflow's depth-tracking task iterator costs more than the step itself.
    workflows = [workflow, *workflow.subprocesses.values()]
    return [t for wf in workflows for t in wf.tasks.values() if t.state == TaskState.READY and t.task_spec.manual]


def resolve_groups(workflow: BpmnWorkflow, task: Task, groups: Iterable[str]) -> list[str]:
    """Turn candidate groups, `${expr}` ones evaluated in the sandbox, into group codes."""
    resolved: list[str] = []
    for group in groups:
        expression = group_expression(group)
        if expression is None:
            resolved.append(group)
            continue
        value = workflow.script_engine.evaluate(task, expression)
        values = value if isinstance(value, list | tuple | set) else [value]
        resolved.extend(str(v) for v in values if v not in (None, ""))
    return list(dict.fromkeys(resolved))


class TaskMirror:
    """Writes READY/COMPLETED user tasks of one instance into `human_task`."""

    def __init__(self, session: Session, instance: ProcessInstance, loaded: LoadedDefinition,
                 calendar: WorkCalendar):
        self.session, self.instance, self.loaded, self.calendar = session, instance, loaded, calendar

    def open_rows(self) -> dict[str, HumanTask]:
        """Return this instance's READY rows by task id."""
        with self.session.no_autoflush:  # rows changed in this step are in the identity map
            rows = self.session.scalars(select(HumanTask).where(
                HumanTask.instance_id == self.instance.id, HumanTask.state == READY))
            return {row.id: row for row in rows if row.state == READY}

    def sync(self, workflow: BpmnWorkflow, actor: str, at: datetime) -> list[HumanTask]:
        """Insert newly READY user tasks and cancel rows whose task went away; return new rows."""
        ready = {str(t.id): t for t in ready_user_tasks(workflow)}
        existing = self.open_rows()
        for task_id, row in existing.items():
            if task_id not in ready:
                row.state = CANCELLED
                row.completed_at = at
                record(self.session, self.instance.case_no, "task_cancelled", actor, at, row)
        created = [self._create(workflow, task, at) for task_id, task in ready.items() if task_id not in existing]
        for row in created:
            record(self.session, self.instance.case_no, "task_created", "system", at, row,
                   {"candidate_groups": row.candidate_groups, "due_at": _iso(row.due_at)})
        return created

    def _create(self, workflow: BpmnWorkflow, task: Task, at: datetime) -> HumanTask:
        meta = self.loaded.model.user_tasks.get(task.task_spec.bpmn_id)
        name = meta.name if meta else (task.task_spec.bpmn_name or task.task_spec.name)
        groups = resolve_groups(workflow, task, meta.candidate_groups) if meta else []
        due = self.calendar.add_workdays(at, meta.due_workdays) if meta else None
        row = HumanTask(
            id=str(task.id), instance_id=self.instance.id, case_no=self.instance.case_no,
            task_spec=task.task_spec.bpmn_id, name=name, form_key=meta.form_key if meta else "",
            candidate_groups=groups, context={k: task.data[k] for k in CONTEXT_KEYS if k in task.data},
            state=READY, created_at=at, due_at=due,
            groups=[HumanTaskGroup(group_code=g) for g in groups])
        self.session.add(row)
        return row


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def task_summary(row: HumanTask, now: datetime) -> dict[str, Any]:
    """Return the fields the task list shows (CLI, API, inbox)."""
    return {
        "id": row.id, "case_no": row.case_no, "name": row.name, "form_key": row.form_key,
        "candidate_groups": list(row.candidate_groups), "assignee": row.assignee,
        "created_at": _iso(row.created_at), "due_at": _iso(row.due_at),
        "overdue": bool(row.state == READY and row.due_at is not None and row.due_at < now),
    }
