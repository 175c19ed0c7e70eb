"""Run cases: start, complete user tasks, fire timers — each one transaction (run → store).

`CaseEngine` is what the CLI, the web app and the scheduler call. Every public method opens
its own transaction, locks the instance row, loads the workflow onto the cached spec of its
definition, runs it, writes the new state, the human-task mirror, the event log and the
applicant notices together, and commits — or rolls everything back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
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
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine import clock, db, reference
from engine.access import scoping
from engine.access.accounts import Principal
from engine.bpmn import forms
from engine.bpmn.definitions import DeployResult, LoadedDefinition, SpecCache, deploy
from engine.bpmn.sandbox import SandboxScriptEngine
from engine.bpmn.serializer import StateSerializer
from engine.cases import store
from engine.cases.admin import ERROR, OPEN, InstanceAdmin, halted_message, workflow_tasks
from engine.cases.intake import LOCAL_TZ, Registered, register
from engine.cases.queries import CaseQueries
from engine.cases.store import COMPLETED, READY, InstanceState
from engine.cases.tasks import TaskMirror, record, task_summary, write_events
from engine.deadlines.policy import DueTimePolicy
from engine.deadlines.workcal import WorkCalendar
from engine.errors import InvalidData, NotDeployed, NotFound, TaskConflict, WorkflowFailure
from engine.notify.notices import hotline_result, notice_text

PROCESS_KEY = "relief_linkage"
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


class CaseEngine(CaseQueries, InstanceAdmin):
    """The engine's service API; one instance per process (it caches parsed specs)."""

    def __init__(self, database_url: str | None = None, calendar: WorkCalendar | None = None,
                 reuse_workflows: bool = True):
        self.database_url = database_url
        # Keep the last committed workflow object per instance to skip deserializing it on the
        # next step; the lock_version check makes a stale object unusable.
        self.reuse_workflows = reuse_workflows
        self.calendar = calendar or WorkCalendar.load()
        DueTimePolicy.from_env()  # a bad RELIEF_GREEN_CHANNEL_FACTOR fails here, not at the first intake
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
        except OperationalError as err:
            if not _is_lock_failure(err):
                raise
            raise TaskConflict("案件正被他人处理，请稍后重试") from err
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
                   green_channel: bool = False, actor: str = "system", org: str | None = None,
                   query_code: str | None = None, hotline_order: dict[str, Any] | None = None,
                   allow_missing_id: bool = False,
                   attachments: Sequence[Mapping[str, Any]] = ()) -> tuple[str, int]:
        """Register an application and start its linkage process; return (case_no, instance id).

        `allow_missing_id` accepts an applicant without an ID number (12345 work orders);
        `attachments` (filename, content_type, size, sha256 of files already stored) are recorded
        in the same transaction as the case.
        """
        now = clock.now()
        with self._transaction() as session:
            conn = session.connection()
            latest = store.latest_definition_id(conn, PROCESS_KEY)
            if latest is None:
                raise NotDeployed(f"流程 {PROCESS_KEY} 尚未部署，请先执行 relief deploy")
            definition_id, version = latest
            application = register(conn, applicant, channel, level, green_channel, now, actor, org, query_code,
                                   allow_missing_id)
            if hotline_order is not None:
                store.insert_rows(conn, store.HOTLINE, [{**hotline_order, "case_no": application.case_no,
                                                        "received_at": now}])
            store.insert_rows(conn, store.ATTACHMENT, [
                {**a, "case_no": application.case_no, "uploaded_by": actor, "uploaded_at": now} for a in attachments])
            loaded = self.specs.get_by_id(session, definition_id)
            workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=self.script_engine)
            workflow.data.update(self._initial_data(application, green_channel))
            workflow.get_next_task(state=TaskState.READY).data.update(workflow.data)
            instance = store.insert_instance(conn, {
                "definition_id": definition_id, "case_no": application.case_no, "status": OPEN, "state": "",
                "serializer_version": self.serializer.version, "started_at": now})
            record(session, application.case_no, "case_started", actor, now,
                   data={"channel": channel, "level": level, "green_channel": green_channel,
                         "definition_version": version})
            self._advance(session, instance, loaded, workflow, actor, now)
            return application.case_no, instance.id

    @staticmethod
    def _initial_data(application: Registered, green_channel: bool) -> dict[str, Any]:
        # Personal data (name, ID number, phone) stays in the application table, not in the flow.
        return {
            "case_no": application.case_no, "channel": application.channel, "level": application.level,
            "green_channel": green_channel, "request": application.request,
            "region": {"township": application.township, "village": application.village},
            "matters": list(application.matters),
        }

    def complete_task(self, task_id: str, user: str, data: dict[str, Any],
                      principal: Principal | None = None) -> list[dict[str, Any]]:
        """Complete an open user task with form data; return the case's open tasks afterwards.

        With a `principal` the task must be within their scope (else NotFound) and theirs to
        work (else Forbidden); without one the caller is an operator tool (the CLI).
        """
        now = clock.now()
        with self._transaction() as session:
            instance, row = self._open_task(session, task_id, principal, scoping.may_work_task)
            errors = forms.validate_form(row["form_key"], data) or _catalog_errors(data)
            if errors:
                raise InvalidData("表单填写有误，请按提示修改", errors)
            loaded = self.specs.get_by_id(session, instance.definition_id)
            workflow = self._load(instance, loaded)
            task = workflow.get_task_from_id(UUID(task_id))
            if task is None or task.state != TaskState.READY:
                raise TaskConflict("该任务已不在待办状态，请刷新后重试")
            values = forms.apply_defaults(row["form_key"], data)
            task.data.update(values)
            self._finish_row(session, row, user, values, now)
            open_rows = self._advance(session, instance, loaded, workflow, user, now, run=task)
            return [task_summary(r, now) for r in open_rows]

    def claim_task(self, task_id: str, user: str, principal: Principal | None = None) -> dict[str, Any]:
        """Take an open task as one's own (认领); refused while someone else holds it."""
        return self._assign(task_id, user, "task_claimed", expect_free=True, principal=principal,
                            allowed=scoping.may_work_task)

    def release_task(self, task_id: str, user: str, principal: Principal | None = None) -> dict[str, Any]:
        """Give a claimed task back to its candidate groups (退回组内)."""
        return self._assign(task_id, None, "task_released", actor=user, principal=principal,
                            allowed=scoping.holds_or_supervises)

    def assign_task(self, task_id: str, assignee: str, by: str,
                    principal: Principal | None = None, reason: str | None = None) -> dict[str, Any]:
        """Assign an open task to a colleague (by a supervisor, or an administrator with a reason)."""
        return self._assign(task_id, assignee, "task_assigned", actor=by, principal=principal,
                            allowed=scoping.may_assign_task, reason=reason)

    def _assign(self, task_id: str, assignee: str | None, event: str, actor: str | None = None,
                expect_free: bool = False, principal: Principal | None = None,
                allowed: Any = None, reason: str | None = None) -> dict[str, Any]:
        now = clock.now()
        with self._transaction() as session:
            conn = session.connection()
            _instance, row = self._open_task(session, task_id, principal, allowed)
            if expect_free and row["assignee"] not in (None, assignee):
                raise TaskConflict(f"该任务已由 {row['assignee']} 认领")
            if event == "task_assigned" and not scoping.is_candidate(session, str(assignee), row):
                raise InvalidData("无法指派", {"assignee": [f"{assignee} 不是该任务候选组中的在岗人员"]})
            store.set_assignee(conn, task_id, assignee)
            details: dict[str, Any] = {"assignee": assignee, "previous": row["assignee"]}
            if reason:
                details["reason"] = reason
            record(session, row["case_no"], event, actor or str(assignee), now, task_id, row["name"], details)
            return task_summary({**row, "assignee": assignee}, now)

    def fire_timers(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Fire due BPMN timers of instances whose next timer is due; return what fired."""
        moment = clock.aware(now) if now is not None else clock.now()
        fired: list[dict[str, Any]] = []
        with self._transaction() as session:
            due_ids = store.due_timer_instances(session.connection(), moment)
        for instance_id in due_ids:
            fired.extend(self._fire_instance(instance_id, moment))
        return fired

    def _fire_instance(self, instance_id: int, moment: datetime) -> list[dict[str, Any]]:
        with clock.frozen_at(moment), self._transaction() as session:
            instance = self._lock_instance(session, instance_id)
            if instance.status != OPEN or instance.next_timer_at is None or instance.next_timer_at > moment:
                return []
            loaded = self.specs.get_by_id(session, instance.definition_id)
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

    def _open_task(self, session: Session, task_id: str, principal: Principal | None,
                   allowed: Any) -> tuple[InstanceState, Mapping[str, Any]]:
        """Lock the task's instance, then read the task as it is now: in scope, allowed, still open."""
        conn = session.connection()
        instance_id = store.task_instance_id(conn, task_id)
        if instance_id is None:
            raise NotFound(f"任务 {task_id} 不存在")
        instance = self._lock_instance(session, instance_id)
        row = store.get_task(conn, task_id)
        assert row is not None
        scoping.check_task_access(principal, row, allowed)
        halted = halted_message(instance.status)
        if halted is not None:
            raise TaskConflict(halted)
        if row["state"] != READY:
            raise TaskConflict(self._closed_message(row))
        return instance, row

    def _lock_instance(self, session: Session, instance_id: int) -> InstanceState:
        instance = store.load_instance(session.connection(), instance_id, lock=True)
        if instance is None:
            raise NotFound(f"流程实例 {instance_id} 不存在")
        return instance

    @staticmethod
    def _closed_message(row: Mapping[str, Any]) -> str:
        if row["state"] == COMPLETED:
            done = row["completed_at"]
            when = done.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if done else ""
            return f"该任务已由 {row['completed_by']} 于 {when} 办理完成，无需重复提交"
        return "该任务已取消（流程已转入其他环节），无需办理"

    @staticmethod
    def _finish_row(session: Session, row: Mapping[str, Any], user: str, values: dict[str, Any],
                    now: datetime) -> None:
        task_id, case_no, name = row["id"], row["case_no"], row["name"]
        store.complete_task(session.connection(), task_id, user, now, values)
        record(session, case_no, "task_completed", user, now, task_id, name, values)
        decided = {k: values[k] for k in DECISION_FIELDS if k in values}
        if decided:
            extra: dict[str, Any] = {k: values[k] for k in ("departments", "reason", "plan") if k in values}
            record(session, case_no, "decision", user, now, task_id, name, {**decided, **extra})

    def _load(self, instance: InstanceState, loaded: LoadedDefinition) -> BpmnWorkflow:
        with self._cache_lock:
            cached = self._cache.pop(instance.id, None)
        if self.reuse_workflows and cached is not None and cached[0] == instance.lock_version:
            return cached[1]
        workflow = self.serializer.load(instance.state, instance.serializer_version,
                                        loaded.spec, loaded.subprocess_specs)
        workflow.script_engine = self.script_engine
        return workflow

    def _advance(self, session: Session, instance: InstanceState, loaded: LoadedDefinition,
                 workflow: BpmnWorkflow, actor: str, now: datetime, run: Any = None) -> list[Mapping[str, Any]]:
        effects = _Effects()
        token = _effects.set(effects)
        failure: SpiffWorkflowException | None = None
        try:
            with clock.frozen_at(now):
                if run is not None:
                    run.run()
                workflow.do_engine_steps()
        except SpiffWorkflowException as err:
            failure = err
        finally:
            _effects.reset(token)
        if failure is not None:
            self._record_failure(session, instance, workflow, failure, now)
        conn = session.connection()
        store.insert_rows(conn, store.NOTICE, [
            {"case_no": instance.case_no, "recipient": "applicant", "channel": "sms", "kind": kind,
             "status": "pending", "content": notice_text(kind, details), "details": details, "created_at": now}
            for kind, details in effects.notices])
        for kind, details in effects.notices:
            record(session, instance.case_no, "notice", "system", now, data={"kind": kind, **details})
        open_rows = TaskMirror(session, instance, loaded, self.calendar).sync(workflow, actor, now)
        self._update_status(session, instance, loaded, workflow, now)
        self._store_workflow(session, instance, workflow)
        return open_rows

    @staticmethod
    def _record_failure(session: Session, instance: InstanceState, workflow: BpmnWorkflow,
                        err: SpiffWorkflowException, now: datetime) -> None:
        """A script or condition failed at run time: keep what was done, stop the case in `error`.

        The step that failed stays in ERROR state; an administrator repairs its data (or
        migrates the case to a corrected version) and retries it (`retry_task`). What users
        completed before the failure is not lost.
        """
        failed = workflow_tasks(workflow, TaskState.ERROR)
        if not failed:
            raise WorkflowFailure(f"流程执行出错：{err}") from err
        instance.status = ERROR
        for task in failed:
            element = task.task_spec.bpmn_id or task.task_spec.name
            record(session, instance.case_no, "task_error", "system", now, str(task.id),
                   task.task_spec.bpmn_name or element,
                   {"element": element, "message": f"「{task.task_spec.bpmn_name or element}」执行出错：{err}"})

    def _store_workflow(self, session: Session, instance: InstanceState, workflow: BpmnWorkflow) -> None:
        """Write the workflow state (optimistic lock); keep the object for reuse once committed."""
        instance.state = self.serializer.dump(workflow)
        instance.serializer_version = self.serializer.version
        store.save_instance(session.connection(), instance)
        session.info.setdefault("cache", []).append((instance.id, instance.lock_version, workflow))

    def _update_status(self, session: Session, instance: InstanceState, loaded: LoadedDefinition,
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
        self._queue_hotline_result(session, instance, workflow, now)

    @staticmethod
    def _queue_hotline_result(session: Session, instance: InstanceState, workflow: BpmnWorkflow,
                              now: datetime) -> None:
        # a case that came from 12345 is answered back (回单) through the outbox.
        conn = session.connection()
        order_no = store.hotline_order_of(conn, instance.case_no)
        if order_no is None:
            return
        result = hotline_result(instance.status, workflow.data)
        store.insert_rows(conn, store.NOTICE, [{
            "case_no": instance.case_no, "recipient": "hotline", "channel": "hotline", "kind": "result",
            "status": "pending",
            "content": result, "details": {"order_no": order_no, "status": instance.status}, "created_at": now}])
        record(session, instance.case_no, "hotline_result_queued", "system", now, data={"order_no": order_no})


def _catalog_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    # The form schema knows the department codes; matter codes live in the editable catalog.
    matters = data.get("matters")
    if not isinstance(matters, list):
        return {}
    unknown = [m for m in matters if m not in reference.matters()]
    return {"matters": [f"事项清单中没有：{'、'.join(map(str, unknown))}"]} if unknown else {}


def _is_lock_failure(err: OperationalError) -> bool:
    # SQLite gives up waiting for the write lock after its busy timeout; PostgreSQL reports
    # deadlocks and lock timeouts by SQLSTATE 40P01 / 55P03.
    code = getattr(err.orig, "sqlstate", None)
    return code in ("40P01", "55P03") or "database is locked" in str(err.orig)


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
