"""Run cases: start, complete user tasks, fire timers — each one transaction (run → store).

`CaseEngine` is what the CLI, the web app and the scheduler call. Every public method opens
its own transaction, locks the instance row, loads the workflow onto the cached spec of its
definition, runs it, writes the new state, the human-task mirror, the event log and the
applicant notices together, and commits — or rolls everything back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import clock, db, forms
from engine.definitions import DeployResult, LoadedDefinition, SpecCache, deploy, latest_definition
from engine.errors import InvalidData, NotFound, TaskConflict, WorkflowFailure
from engine.intake import LOCAL_TZ, register
from engine.models import CaseEvent, HumanTask, Notification, ProcessDefinition, ProcessInstance
from engine.notices import notice_text
from engine.sandbox import SandboxScriptEngine
from engine.serializer import StateSerializer
from engine.tasks import COMPLETED, READY, TaskMirror, record, task_summary, write_events
from engine.workcal import WorkCalendar

PROCESS_KEY = "relief_linkage"
OPEN = "open"
DECISION_FIELDS = ("decision", "resolution", "outcome")


@dataclass
class _Effects:
    notices: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


_effects: ContextVar[_Effects | None] = ContextVar("relief_effects", default=None)


def notify_applicant(kind: str, **details: Any) -> None:
    """BPMN helper: queue a notice to the applicant (written with the step's transaction)."""
    effects = _effects.get()
    if effects is not None:
        effects.notices.append((str(kind), dict(details)))


class CaseEngine:
    """The engine's service API; one instance per process (it caches parsed specs)."""

    def __init__(self, database_url: str | None = None, calendar: WorkCalendar | None = None,
                 reuse_workflows: bool = True):
        self.database_url = database_url
        # Keep the last committed workflow object per instance to skip deserializing it on the
        # next step; the lock_version check makes a stale object unusable.
        self.reuse_workflows = reuse_workflows
        self.calendar = calendar or WorkCalendar.load()
        self.specs = SpecCache()
        self.serializer = StateSerializer()
        self.script_engine = SandboxScriptEngine({
            "notify_applicant": notify_applicant,
            "workday_deadline": self.workday_deadline,
        })
        self._cache: dict[int, tuple[int, BpmnWorkflow]] = {}
        self._cache_lock = threading.Lock()

    def workday_deadline(self, workdays: int) -> str:
        """BPMN helper: the ISO due moment `workdays` working days from the engine clock."""
        return self.calendar.add_workdays(clock.now(), int(workdays)).isoformat()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        try:
            with db.transaction(self.database_url) as session:
                yield session
                write_events(session)
                pending = session.info.pop("cache", [])
        except StaleDataError as err:
            raise TaskConflict("案件已被他人同时处理，请刷新后重试") from err
        # Only workflows whose state was committed may be reused by the next step.
        with self._cache_lock:
            for instance_id, version, workflow in pending:
                self._cache[instance_id] = (version, workflow)

    # -- definitions ---------------------------------------------------------------------

    def deploy(self, xml: bytes, filename: str, deployed_by: str = "system",
               comment: str | None = None) -> DeployResult:
        """Validate and store a BPMN file as a new version unless unchanged."""
        with self._transaction() as session:
            return deploy(session, xml, filename, deployed_by, clock.now(), comment)

    # -- running -------------------------------------------------------------------------

    def start_case(self, applicant: dict[str, Any], channel: str, level: str,
                   green_channel: bool = False, actor: str = "system") -> tuple[str, int]:
        """Register an application and start its linkage process; return (case_no, instance id)."""
        now = clock.now()
        with self._transaction() as session:
            definition = latest_definition(session, PROCESS_KEY)
            assert definition is not None
            application = register(session, applicant, channel, level, green_channel, now)
            loaded = self.specs.get(definition)
            workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=self.script_engine)
            workflow.data.update(self._initial_data(application, green_channel))
            workflow.get_next_task(state=TaskState.READY).data.update(workflow.data)
            instance = ProcessInstance(definition_id=definition.id, case_no=application.case_no, status=OPEN,
                                       state="", serializer_version=self.serializer.version, started_at=now)
            session.add(instance)
            session.flush()
            record(session, application.case_no, "case_started", actor, now,
                   data={"channel": channel, "level": level, "green_channel": green_channel,
                         "definition_version": definition.version})
            self._advance(session, instance, loaded, workflow, actor, now)
            return application.case_no, instance.id

    @staticmethod
    def _initial_data(application: Any, green_channel: bool) -> dict[str, Any]:
        # Personal data (name, ID number, phone) stays in the application table, not in the flow.
        return {
            "case_no": application.case_no, "channel": application.channel, "level": application.level,
            "green_channel": green_channel, "request": application.request,
            "region": {"township": application.township, "village": application.village},
            "matters": list(application.matters),
        }

    def complete_task(self, task_id: str, user: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Complete an open user task with form data; return the case's open tasks afterwards."""
        now = clock.now()
        with self._transaction() as session:
            instance_id = session.scalar(select(HumanTask.instance_id).where(HumanTask.id == task_id))
            if instance_id is None:
                raise NotFound(f"任务 {task_id} 不存在")
            instance = self._lock_instance(session, instance_id)
            row = session.get_one(HumanTask, task_id)  # read after the lock: the current state
            if row.state != READY:
                raise TaskConflict(self._closed_message(row))
            errors = forms.validate_form(row.form_key, data)
            if errors:
                raise InvalidData("表单填写有误，请按提示修改", errors)
            loaded = self.specs.get(instance.definition)
            workflow = self._load(instance, loaded)
            task = workflow.get_task_from_id(UUID(task_id))
            if task is None or task.state != TaskState.READY:
                raise TaskConflict("该任务已不在待办状态，请刷新后重试")
            values = forms.apply_defaults(row.form_key, data)
            task.data.update(values)
            self._finish_row(session, row, user, values, now)
            self._advance(session, instance, loaded, workflow, user, now, run=task)
            return self._open_tasks(session, instance.case_no, now)

    def fire_timers(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Fire due BPMN timers of instances whose next timer is due; return what fired."""
        moment = clock.aware(now) if now is not None else clock.now()
        fired: list[dict[str, Any]] = []
        with self._transaction() as session:
            due_ids = session.scalars(select(ProcessInstance.id).where(
                ProcessInstance.status == OPEN, ProcessInstance.next_timer_at <= moment)).all()
        for instance_id in due_ids:
            fired.extend(self._fire_instance(instance_id, moment))
        return fired

    def _fire_instance(self, instance_id: int, moment: datetime) -> list[dict[str, Any]]:
        with clock.frozen_at(moment), self._transaction() as session:
            instance = self._lock_instance(session, instance_id)
            if instance.status != OPEN or instance.next_timer_at is None or instance.next_timer_at > moment:
                return []
            loaded = self.specs.get(instance.definition)
            workflow = self._load(instance, loaded)
            before = {str(t.id) for t in workflow.get_tasks(state=TaskState.WAITING)}
            workflow.refresh_timers()
            fired = [t for t in workflow.get_tasks(state=TaskState.READY | TaskState.COMPLETED)
                     if str(t.id) in before and _is_timer(t)]
            events = [{"case_no": instance.case_no, "timer": t.task_spec.bpmn_id,
                       "name": t.task_spec.bpmn_name, "department": t.data.get("department")} for t in fired]
            for event in events:
                record(session, instance.case_no, "timer_fired", "scheduler", moment, data=event)
            self._advance(session, instance, loaded, workflow, "scheduler", moment)
            return events

    # -- internals -----------------------------------------------------------------------

    def _lock_instance(self, session: Session, instance_id: int) -> ProcessInstance:
        instance = session.scalars(select(ProcessInstance).where(ProcessInstance.id == instance_id)
                                   .with_for_update(of=ProcessInstance)).first()
        if instance is None:
            raise NotFound(f"流程实例 {instance_id} 不存在")
        return instance

    @staticmethod
    def _closed_message(row: HumanTask) -> str:
        if row.state == COMPLETED:
            when = row.completed_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if row.completed_at else ""
            return f"该任务已由 {row.completed_by} 于 {when} 办理完成，无需重复提交"
        return "该任务已取消（流程已转入其他环节），无需办理"

    @staticmethod
    def _finish_row(session: Session, row: HumanTask, user: str, values: dict[str, Any], now: datetime) -> None:
        row.state, row.completed_at, row.completed_by, row.data = COMPLETED, now, user, values
        record(session, row.case_no, "task_completed", user, now, row, values)
        decided = {k: values[k] for k in DECISION_FIELDS if k in values}
        if decided:
            extra: dict[str, Any] = {k: values[k] for k in ("departments", "reason", "plan") if k in values}
            record(session, row.case_no, "decision", user, now, row, {**decided, **extra})

    def _load(self, instance: ProcessInstance, loaded: LoadedDefinition) -> BpmnWorkflow:
        with self._cache_lock:
            cached = self._cache.pop(instance.id, None)
        if self.reuse_workflows and cached is not None and cached[0] == instance.lock_version:
            return cached[1]
        workflow = self.serializer.load(instance.state, instance.serializer_version,
                                        loaded.spec, loaded.subprocess_specs)
        workflow.script_engine = self.script_engine
        return workflow

    def _advance(self, session: Session, instance: ProcessInstance, loaded: LoadedDefinition,
                 workflow: BpmnWorkflow, actor: str, now: datetime, run: Any = None) -> None:
        effects = _Effects()
        token = _effects.set(effects)
        try:
            with clock.frozen_at(now):
                if run is not None:
                    run.run()
                workflow.do_engine_steps()
        except SpiffWorkflowException as err:
            raise WorkflowFailure(f"流程执行出错：{err}") from err
        finally:
            _effects.reset(token)
        for kind, details in effects.notices:
            self._notice(session, instance.case_no, kind, details, now)
        TaskMirror(session, instance, loaded, self.calendar).sync(workflow, actor, now)
        self._update_status(session, instance, loaded, workflow, now)
        instance.state = self.serializer.dump(workflow)
        instance.serializer_version = self.serializer.version
        session.flush()
        session.info.setdefault("cache", []).append((instance.id, instance.lock_version, workflow))

    def _notice(self, session: Session, case_no: str, kind: str, details: dict[str, Any], now: datetime) -> None:
        session.add(Notification(case_no=case_no, kind=kind, content=notice_text(kind, details),
                                 details=details, created_at=now))
        record(session, case_no, "notice", "system", now, data={"kind": kind, **details})

    def _update_status(self, session: Session, instance: ProcessInstance, loaded: LoadedDefinition,
                       workflow: BpmnWorkflow, now: datetime) -> None:
        instance.next_timer_at = _next_timer(workflow)
        if not workflow.is_completed() or instance.status != OPEN:
            return
        ended = [t.task_spec.bpmn_id for t in workflow.tasks.values()
                 if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id in loaded.model.end_statuses]
        statuses = {loaded.model.end_statuses[e] for e in ended}
        instance.status = "closed_declined" if "closed_declined" in statuses else "closed_completed"
        instance.ended_at = now
        instance.next_timer_at = None
        record(session, instance.case_no, "case_closed", "system", now,
               data={"status": instance.status, "end_events": ended})

    # -- queries -------------------------------------------------------------------------

    def _open_tasks(self, session: Session, case_no: str, now: datetime) -> list[dict[str, Any]]:
        rows = session.scalars(select(HumanTask).where(HumanTask.case_no == case_no, HumanTask.state == READY)
                               .order_by(HumanTask.created_at, HumanTask.id))
        return [task_summary(r, now) for r in rows]

    def list_tasks(self, group: str | None = None, case_no: str | None = None) -> list[dict[str, Any]]:
        """List open user tasks, optionally of one candidate group and/or one case."""
        now = clock.now()
        with self._transaction() as session:
            query = select(HumanTask).where(HumanTask.state == READY)
            if group:
                query = query.where(HumanTask.groups.any(group_code=group))
            if case_no:
                query = query.where(HumanTask.case_no == case_no)
            rows = session.scalars(query.order_by(HumanTask.due_at, HumanTask.created_at, HumanTask.id))
            return [task_summary(r, now) for r in rows]

    def show_case(self, case_no: str) -> dict[str, Any]:
        """Return a case's status, definition version, open tasks and full history."""
        now = clock.now()
        with self._transaction() as session:
            instance = session.scalars(select(ProcessInstance).where(ProcessInstance.case_no == case_no)).first()
            if instance is None:
                raise NotFound(f"案件 {case_no} 不存在")
            events = session.scalars(select(CaseEvent).where(CaseEvent.case_no == case_no).order_by(CaseEvent.id))
            return {
                "case_no": case_no, "status": instance.status,
                "definition_version": instance.definition.version,
                "open_tasks": self._open_tasks(session, case_no, now),
                "history": [{"type": e.type, "task": e.task_name, "task_id": e.task_id, "actor": e.actor,
                             "at": e.at.isoformat(), "data": e.data} for e in events],
            }

    def restore_workflow(self, case_no: str) -> BpmnWorkflow:
        """Deserialize a case's workflow from the database (never from the reuse cache)."""
        with self._transaction() as session:
            instance = session.scalars(select(ProcessInstance).where(ProcessInstance.case_no == case_no)).first()
            if instance is None:
                raise NotFound(f"案件 {case_no} 不存在")
            loaded = self.specs.get(instance.definition)
            workflow = self.serializer.load(instance.state, instance.serializer_version,
                                            loaded.spec, loaded.subprocess_specs)
            workflow.script_engine = self.script_engine
            return workflow

    def definitions(self) -> list[ProcessDefinition]:
        """Return every deployed definition, newest first."""
        with self._transaction() as session:
            return list(session.scalars(select(ProcessDefinition).order_by(
                ProcessDefinition.key, ProcessDefinition.version.desc())))


def _is_timer(task: Any) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


def _next_timer(workflow: BpmnWorkflow) -> datetime | None:
    moments = []
    for event in workflow.waiting_events():
        if isinstance(event.value, str):
            try:
                moments.append(clock.aware(datetime.fromisoformat(event.value)))
            except ValueError:
                continue
    return min(moments) if moments else None
