"""Running one step of a case (run → store): the transaction, the instance lock, the workflow, its state.

`Workflows` is what every operation on a running case shares — the case engine's own operations,
administration and the queries that restore a workflow. A step locks the instance row, loads the
workflow onto the cached spec of its definition, runs it, then writes the new state, the
human-task mirror, the event log and the applicant notices in the same transaction.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine import clock, db, status, tables
from engine.access import scoping
from engine.access.accounts import Principal
from engine.archive import store as archive_register
from engine.bpmn.definitions import LoadedDefinition, SpecCache, known_groups
from engine.bpmn.messages import SUPPLEMENT_RECEIVED, waiting_for
from engine.bpmn.sandbox import SandboxScriptEngine, explain
from engine.bpmn.serializer import StateSerializer
from engine.cases import store
from engine.cases.publicity import DEFAULT_DAYS, publications, publish_request
from engine.cases.store import InstanceState
from engine.cases.tasks import TaskMirror, record, write_events
from engine.deadlines.policy import workday_deadline_helper
from engine.deadlines.workcal import WorkCalendar
from engine.errors import NotFound, TaskConflict, WorkflowFailure
from engine.feedback.complaint_steps import COMPLAINT_STEPS, record_complaint_step
from engine.notify.notices import Notices
from engine.notify.outbox import hotline_answered, queue_hotline, queue_in_app
from engine.settings import Settings

# Workflows kept for reuse per engine (about 30 kB each): the cases stepped most recently.
MAX_CACHED_WORKFLOWS = 500


@dataclass
class _Effects:
    notices: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    publications: list[dict[str, Any]] = field(default_factory=list)
    notes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    case_notices: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    complaint_steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


_effects: ContextVar[_Effects | None] = ContextVar("relief_effects", default=None)


def notify_applicant(kind: str, **details: Any) -> None:
    """BPMN helper: queue a notice to the applicant (written with the step's transaction)."""
    effects = _effects.get()
    if effects is not None:
        effects.notices.append((str(kind), dict(details)))


def publish_notice(department: Any, amount: Any = None, household_size: Any = None, matters: Any = None,
                   days: Any = DEFAULT_DAYS) -> None:
    """BPMN helper: 救助公示 of this department's noticed matters of the case (written with the step)."""
    effects = _effects.get()
    if effects is not None:
        effects.publications.append(publish_request(department, amount, household_size, matters, days))


# What a process may note in another case's history: an objection's review on the noticed case, the
# steps of a 差评's rectification on the rated case, a complaint filed and answered on the case it names (R-6.3.6).
NOTE_KINDS = ("objection_reviewed", "feedback_verified", "feedback_rectified", "feedback_closed",
              "complaint_filed", "complaint_answered")
CASE_NOTICE_KINDS = ("rectified",)  # what a process may tell another case's applicant


def note_on_case(case_no: Any, kind: Any, **details: Any) -> None:
    """BPMN helper: note an outcome in another case's history (an objection's review on the noticed case)."""
    effects = _effects.get()
    if effects is not None and str(kind) in NOTE_KINDS:
        effects.notes.append((str(case_no), str(kind), {k: v for k, v in details.items()
                                                        if isinstance(v, str | int | float | bool | None)}))


def notify_case_applicant(case_no: Any, kind: Any, **details: Any) -> None:
    """BPMN helper: queue a notice to the applicant of another case (a 差评's rectification tells the rated
    case's applicant its result); nothing for a case without an application (a window visit)."""
    effects = _effects.get()
    if effects is not None and case_no and str(kind) in CASE_NOTICE_KINDS:
        effects.case_notices.append((str(case_no), str(kind), {k: v for k, v in details.items()
                                                               if isinstance(v, str | int | float | bool | None)}))


def complaint_step(step: Any, **details: Any) -> None:
    """BPMN helper: record a step of the complaint this process works (投诉反馈: assigned, replied — which
    answers the complainant —, rated, reopened, closed); see `engine.feedback.complaint_steps`."""
    effects = _effects.get()
    if effects is not None and str(step) in COMPLAINT_STEPS:
        effects.complaint_steps.append((str(step), {k: v for k, v in details.items()
                                                    if isinstance(v, str | int | float | bool | None)}))


def bpmn_helpers(settings: Settings, calendar: WorkCalendar) -> dict[str, Any]:
    """The functions BPMN expressions and scripts may call (the trial runs give the same ones)."""
    return {"notify_applicant": notify_applicant, "publish_notice": publish_notice, "note_on_case": note_on_case,
            "notify_case_applicant": notify_case_applicant, "complaint_step": complaint_step,
            "workday_deadline": workday_deadline_helper(calendar, settings.due_policy)}


def _error_notice_key(task_id: str, username: str, at: datetime) -> str:
    """One notice per failed step, person and failure (a retry that fails again tells them again); hashed,
    so a long username cannot overflow the key column."""
    digest = hashlib.sha256(f"{task_id}:{username}:{at.isoformat()}".encode()).hexdigest()
    return f"case_error:{digest}"


def workflow_tasks(workflow: BpmnWorkflow, state: int = TaskState.ANY_MASK) -> list[Task]:
    """Every task of the workflow and all its subprocesses in `state`, each once.

    SpiffWorkflow's iterator descends into subprocesses only along some states, so each
    (sub)process is asked separately and the results are merged by task id.
    """
    found: dict[Any, Task] = {}
    for process in (workflow, *workflow.subprocesses.values()):
        for task in process.get_tasks(state=state):
            found.setdefault(task.id, task)
    return list(found.values())


class Workflows:
    """Loads, runs and stores case workflows; one per engine (it caches specs and workflows)."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory, calendar: WorkCalendar,
                 reuse_workflows: bool = True):
        self.settings, self.sessions, self.calendar = settings, sessions, calendar
        self.policy = settings.due_policy
        self.notices = Notices(settings.reference, settings.portal_url)
        self.specs = SpecCache(known_groups(settings))
        self.serializer = StateSerializer()
        self.script_engine = SandboxScriptEngine(bpmn_helpers(settings, calendar))
        # Keep the last committed workflow object per instance to skip deserializing it on the
        # next step; the lock_version check makes a stale object unusable.
        self.reuse_workflows = reuse_workflows
        self._cache: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._cache_lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction of a step: events written before commit, a lock timeout is a conflict."""
        try:
            with db.transaction(self.sessions) as session:
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
                self._cache.move_to_end(instance_id)
            while len(self._cache) > MAX_CACHED_WORKFLOWS:  # the least recently stepped go first
                self._cache.popitem(last=False)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads (lists, pages): on SQLite it takes no write lock."""
        with db.transaction(self.sessions, read_only=True) as session:
            yield session

    # -- finding and locking ------------------------------------------------------------------

    @staticmethod
    def lock_instance(session: Session, instance_id: int) -> InstanceState:
        """Read and lock an instance row for the rest of the transaction."""
        instance = store.load_instance(session.connection(), instance_id, lock=True)
        if instance is None:
            raise NotFound(f"流程实例 {instance_id} 不存在")
        return instance

    @staticmethod
    def find_case(session: Session, case_no: str) -> InstanceState:
        """The instance row of a case (NotFound when there is none)."""
        instance = store.find_instance(session.connection(), case_no)
        if instance is None:
            raise NotFound(f"案件 {case_no} 不存在")
        return instance

    @staticmethod
    def visible_case(session: Session, principal: Principal | None, case_no: str) -> InstanceState:
        """The instance row of a case this user may see (None: an operator tool); NotFound otherwise."""
        conn = session.connection()
        instance = store.find_instance(conn, case_no)
        if instance is None or not scoping.may_see_case(conn, principal, case_no):
            raise scoping.case_not_found(case_no)
        return instance

    def locked_workflow(self, session: Session, case_no: str, action: str
                        ) -> tuple[InstanceState, LoadedDefinition, BpmnWorkflow]:
        """Lock a case whose status allows `action` (else refuse) and load its workflow."""
        instance = self.lock_instance(session, self.find_case(session, case_no).id)
        require(instance, action)
        loaded = self.specs.get_by_id(session, instance.definition_id)
        return instance, loaded, self.load(instance, loaded)

    # -- loading and storing -------------------------------------------------------------------

    def load(self, instance: InstanceState, loaded: LoadedDefinition) -> BpmnWorkflow:
        """The instance's workflow: the cached object if it is still current, else deserialized."""
        with self._cache_lock:
            cached = self._cache.pop(instance.id, None)
        if self.reuse_workflows and cached is not None and cached[0] == instance.lock_version:
            return cached[1]
        return self.restore(instance, loaded)

    def restore(self, instance: InstanceState, loaded: LoadedDefinition) -> BpmnWorkflow:
        """Deserialize the instance's workflow from its stored state (never from the cache)."""
        state = self.serializer.unarchive(instance.state_archive) if instance.state_archive else instance.state
        workflow = self.serializer.load(state, instance.serializer_version, loaded.spec, loaded.subprocess_specs)
        workflow.script_engine = self.script_engine
        return workflow

    def store_workflow(self, session: Session, instance: InstanceState, workflow: BpmnWorkflow) -> None:
        """Write the workflow state (optimistic lock); keep the object for reuse once committed. A case
        that has ended is stored compressed (`state_archive`): it is read again, never run again; and it is
        due for its electronic archive (电子化归档), which the deadline jobs build outside this step."""
        instance.state = self.serializer.dump(workflow)
        instance.state_archive = None
        if status.is_final(instance.status):
            instance.state, instance.state_archive = "", self.serializer.archive(instance.state)
            archive_register.due_at_end(session.connection(), instance.case_no, instance.ended_at or clock.now())
        instance.serializer_version = self.serializer.version
        store.save_instance(session.connection(), instance)
        session.info.setdefault("cache", []).append((instance.id, instance.lock_version, workflow))

    def mirror(self, session: Session, instance: InstanceState, loaded: LoadedDefinition) -> TaskMirror:
        """The human-task mirror of one instance in this transaction."""
        return TaskMirror(session, instance, loaded, self.calendar, self.policy, self.settings.forms)

    # -- running -------------------------------------------------------------------------------

    def advance(self, session: Session, instance: InstanceState, loaded: LoadedDefinition,
                workflow: BpmnWorkflow, actor: str, now: datetime, run: Task | None = None) -> list[Mapping[str, Any]]:
        """Run `run` (if given) and every engine step after it, then store all that follows from it."""
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
        self._queue_notices(session, instance.case_no, effects.notices, now)
        for case_no, kind, details in effects.case_notices:
            if session.connection().execute(select(tables.APPLICATION.c.id).where(
                    tables.APPLICATION.c.case_no == case_no)).first() is not None:
                self._queue_notices(session, case_no, [(kind, {**details, "from_case": instance.case_no})], now)
        publications(session, self.settings.reference, instance.case_no, effects.publications, now)
        for step, details in effects.complaint_steps:
            self._queue_notices(session, instance.case_no,
                                record_complaint_step(session, instance.case_no, step, details, now, self.notices), now)
        for case_no, kind, details in effects.notes:
            if store.find_instance(session.connection(), case_no) is not None:
                record(session, case_no, kind, actor, now, data={**details, "from_case": instance.case_no})
        open_rows = self.mirror(session, instance, loaded).sync(workflow, actor, now)
        self._update_status(session, instance, loaded, workflow, now)
        self.store_workflow(session, instance, workflow)
        return open_rows

    def _queue_notices(self, session: Session, case_no: str, notices: list[tuple[str, dict[str, Any]]],
                       now: datetime) -> None:
        """SMS to the applicant of `case_no`, written with the step, each also in the case's history."""
        store.insert_rows(session.connection(), tables.NOTICE, [
            {"case_no": case_no, "recipient": "applicant", "channel": "sms", "kind": kind,
             "status": "pending", "content": self.notices.for_case(case_no, kind, details), "details": details,
             "created_at": now}
            for kind, details in notices])
        for kind, details in notices:
            record(session, case_no, "notice", "system", now, data={"kind": kind, **details})

    @staticmethod
    def _record_failure(session: Session, instance: InstanceState, workflow: BpmnWorkflow,
                        err: SpiffWorkflowException, now: datetime) -> None:
        """A script or condition failed at run time: keep what was done, stop the case in `error`.

        The step that failed stays in ERROR state; an administrator repairs its data (or
        migrates the case to a corrected version) and retries it. What users completed before
        the failure is not lost.
        """
        failed = workflow_tasks(workflow, TaskState.ERROR)
        if not failed:
            raise WorkflowFailure(f"流程执行出错：{err}") from err
        instance.status = status.ERROR
        for task in failed:
            name = task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name
            message = f"「{name}」执行出错：{explain(err)}"
            record(session, instance.case_no, "task_error", "system", now, str(task.id), name,
                   {"element": task.task_spec.bpmn_id or task.task_spec.name, "message": message})
            Workflows._tell_error_watchers(session, instance.case_no, str(task.id), name, message, now)

    @staticmethod
    def _tell_error_watchers(session: Session, case_no: str, task_id: str, name: str, message: str,
                             now: datetime) -> None:
        """A case in error waits for an administrator: the center's supervisors and the administrators
        get an in-app notice (once per failed step and person), so no case stops unseen."""
        conn = session.connection()
        names = conn.execute(select(tables.USERS.c.username).where(scoping.error_watchers_clause())).scalars()
        queue_in_app(conn, [{"case_no": case_no, "recipient": "staff", "channel": "in_app", "username": username,
                             "kind": "case_error", "content": f"【流程出错】{case_no} {message}，请管理员处理",
                             "details": {"task_id": task_id, "task": name}, "status": "pending",
                             "created_at": now, "dedup_key": _error_notice_key(task_id, username, now)}
                            for username in sorted(names)])

    def _update_status(self, session: Session, instance: InstanceState, loaded: LoadedDefinition,
                       workflow: BpmnWorkflow, now: datetime) -> None:
        instance.next_timer_at = _next_timer(workflow)
        waits = bool(waiting_for(workflow, SUPPLEMENT_RECEIVED))
        instance.supplement_since = (instance.supplement_since or now) if waits else None
        if not workflow.is_completed() or instance.status != status.OPEN:
            return
        ended = [t.task_spec.bpmn_id for t in workflow.tasks.values()
                 if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id in loaded.model.end_statuses]
        statuses = {loaded.model.end_statuses[e] for e in ended}
        instance.status = status.CLOSED_DECLINED if status.CLOSED_DECLINED in statuses else status.CLOSED_COMPLETED
        instance.ended_at = now
        instance.next_timer_at = None
        record(session, instance.case_no, "case_closed", "system", now,
               data={"status": instance.status, "end_events": ended})
        self._queue_hotline_result(session, instance, workflow, now)

    def _queue_hotline_result(self, session: Session, instance: InstanceState, workflow: BpmnWorkflow,
                              now: datetime) -> None:
        # a case that came from 12345 is answered back (回单) through the outbox — once: a process
        # that already answered the order on its way (a complaint's reply) is not answered again at its end.
        conn = session.connection()
        order_no = store.hotline_order_of(conn, instance.case_no)
        if order_no is None or hotline_answered(conn, instance.case_no):
            return
        result = self.notices.hotline_result(instance.case_no, instance.status, workflow.data)
        queue_hotline(conn, instance.case_no, "result", result, {"order_no": order_no, "status": instance.status},
                      now)
        record(session, instance.case_no, "hotline_result_queued", "system", now, data={"order_no": order_no})


def require(instance: InstanceState, action: str) -> None:
    """Refuse (TaskConflict, in Chinese) an administrator action the case's status does not allow."""
    code = instance.status
    if status.allows(code, action):
        return
    verb = status.ADMIN_ACTIONS[action]
    if code == status.SUSPENDED and action == "suspend":
        raise TaskConflict(f"案件 {instance.case_no} 已挂起，无需重复挂起")
    if code == status.OPEN and action == "resume":
        raise TaskConflict(f"案件 {instance.case_no} 未挂起，无需恢复")
    raise TaskConflict(f"案件 {instance.case_no} 当前状态为“{status.label(code)}”，不能{verb}")


def _is_lock_failure(err: OperationalError) -> bool:
    # SQLite gives up waiting for the write lock after its busy timeout; PostgreSQL reports
    # deadlocks and lock timeouts by SQLSTATE 40P01 / 55P03.
    code = getattr(err.orig, "sqlstate", None)
    return code in ("40P01", "55P03") or "database is locked" in str(err.orig)


def _next_timer(workflow: BpmnWorkflow) -> datetime | None:
    moments = []
    for event in workflow.waiting_events():
        if isinstance(event.value, str):
            try:
                moments.append(clock.aware(datetime.fromisoformat(event.value)))
            except ValueError:
                continue
    return min(moments) if moments else None
