"""The case engine: start cases, work their tasks, fire their timers — each one transaction.

`CaseEngine` is what the CLI, the web app and the scheduler hold. It is built from `Settings` and
a session factory (Flask-SQLAlchemy's in the web app, the engine's own elsewhere) and composed of
collaborators, one per job, that share its `Workflows` (run → store):

- the operations on running cases here: `start_case`, `complete_task`, `claim_task`, `release_task`,
  `assign_task`, `fire_timers`, `deploy`;
- `admin` (suspend, resume, terminate, retry, migrate), `queries` (task lists, a case's state),
  `files` (the case file and task page, unmasking, materials, receipts, progress for applicants),
  `exports` (the case query as CSV or XLSX, streamed and audited),
  `archives` (电子化归档 of ended cases), `inbox`, `consultations`, `ratings`, `devices`, `complaints` and
  `suggestions` (好差评, the windows' tablets, complaints and the comment book, R-6.3.6), `hotline`, `inspection`,
  `design`, `outbox`, `accounts`, `audit` (the security audit log), `content` (the portal's policy documents and
  pages), `portal` (the portal's public reads: matters by type, service guides, the flow explained, the service
  windows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, db, status, tables
from engine.access import scoping
from engine.access.accounts import Accounts, Principal
from engine.access.admin import Administration
from engine.archive.service import CaseArchives
from engine.audit.chain import audit
from engine.audit.service import AuditTrail
from engine.bpmn.definitions import DeployResult, LoadedDefinition, SpecCache, latest_definition
from engine.bpmn.design.studio import DesignStudio
from engine.bpmn.usertasks import STARTER
from engine.cases import labels, materials, store
from engine.cases.admin import InstanceAdmin
from engine.cases.bulk import BulkActions
from engine.cases.casefile import CaseFiles
from engine.cases.consultations import Consultations
from engine.cases.export import CaseExports
from engine.cases.hotline import Hotline
from engine.cases.inbox import Inbox
from engine.cases.inspection import Inspection
from engine.cases.intake import PROCESS_PREFIX, Registered, check_application, next_case_no, refuse, register
from engine.cases.publicity import Publicity
from engine.cases.queries import CaseQueries
from engine.cases.store import InstanceState
from engine.cases.supplements import Supplements
from engine.cases.tasks import record, task_summary
from engine.cases.workflows import Workflows
from engine.catalog.service import MatterCatalog
from engine.content.publishing import PortalContent
from engine.dashboard.service import Dashboard
from engine.deadlines.workcal import WorkCalendar
from engine.errors import InvalidData, NotFound, TaskConflict
from engine.feedback.complaints import Complaints
from engine.feedback.devices import RatingDevices
from engine.feedback.ratings import Ratings
from engine.feedback.suggestions import Suggestions
from engine.notify.outbox import Outbox
from engine.portal import PortalQueries
from engine.settings import Settings
from engine.status import COMPLETED, LINKAGE_PROCESS, OPEN, READY

PROCESS_KEY = LINKAGE_PROCESS
DECISION_FIELDS = ("decision", "resolution", "outcome")
DECISION_DETAILS = ("departments", "reason", "plan", "summary")


class CaseEngine:
    """The engine's service API; one per process (it caches parsed specs and workflows)."""

    def __init__(self, settings: Settings, sessions: db.SessionFactory | None = None,
                 calendar: WorkCalendar | None = None, reuse_workflows: bool = True):
        self.settings = settings
        self.sessions = sessions or db.session_factory(settings.database_url)
        self.calendar = calendar or WorkCalendar.load(settings.calendar_file)
        self.workflows = Workflows(settings, self.sessions, self.calendar, reuse_workflows)
        self.admin = InstanceAdmin(self.workflows)
        self.queries = CaseQueries(self.workflows)
        self.files = CaseFiles(self.workflows)
        self.exports = CaseExports(self.workflows)
        self.archives = CaseArchives(self.workflows, self.files)
        self.inbox = Inbox(self.workflows)
        self.inspection = Inspection(self.workflows, self.files, self.admin)
        self.design = DesignStudio(settings, self.sessions, self.calendar)
        self.outbox = Outbox(settings, self.sessions)
        self.accounts = Accounts(settings, self.sessions)
        self.administration = Administration(settings, self.sessions)
        self.bulk = BulkActions(self)
        self.audit = AuditTrail(settings, self.sessions)
        self.consultations = Consultations(self.workflows)
        self.catalog = MatterCatalog(settings, self.sessions)
        self.supplements = Supplements(self.workflows)
        self.publicity = Publicity(self)
        self.ratings = Ratings(self)
        self.devices = RatingDevices(self)
        self.complaints = Complaints(self)
        self.suggestions = Suggestions(self.workflows)
        self.hotline = Hotline(self)
        self.content = PortalContent(settings, self.sessions)
        self.portal = PortalQueries(self.workflows)
        self.dashboard = Dashboard(self.workflows)

    @classmethod
    def for_url(cls, database_url: str, **kwargs: Any) -> CaseEngine:
        """An engine on `database_url` with every other setting from the environment (tests, tools)."""
        return cls(Settings.from_environ(DATABASE_URL=database_url), **kwargs)

    @property
    def specs(self) -> SpecCache:
        """The parsed definitions, shared by every collaborator."""
        return self.workflows.specs

    @specs.setter
    def specs(self, cache: SpecCache) -> None:
        self.workflows.specs = cache

    @property
    def database_url(self) -> str:
        """The database the engine's own session factory connects to."""
        return self.settings.database_url

    # -- definitions ---------------------------------------------------------------------

    def deploy(self, xml: bytes, filename: str, deployed_by: str = "system", comment: str | None = None,
               despite_samples: bool = False, reason: str | None = None) -> DeployResult:
        """Validate, try on the samples and store a BPMN file as a new version unless unchanged
        (`DesignStudio.deploy`)."""
        return self.design.deploy(xml, filename, deployed_by, comment, despite_samples, reason)

    # -- running -------------------------------------------------------------------------

    def start_case(self, applicant: Mapping[str, Any], channel: str, level: str,
                   green_channel: bool = False, actor: str = "system", org: str | None = None,
                   query_code: str | None = None, hotline_order: dict[str, Any] | None = None,
                   allow_missing_id: bool = False, uploads: Sequence[materials.Upload] = (),
                   consent: bool | None = None,
                   refusals: Mapping[str, list[str]] | None = None) -> tuple[str, int]:
        """Check and register an application and start its linkage process; return (case_no, instance id).

        Every channel comes through here, so every channel is checked alike (`check_application`):
        refused input raises InvalidData listing every problem, uploads included, and stores nothing.
        `allow_missing_id` accepts an applicant without an ID number (12345 work orders); `uploads`
        are the application's materials, stored by content hash with the case; `refusals` are what
        the caller already refused in its own request, reported together with the rest.
        """
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            latest = store.startable(conn, PROCESS_KEY)
            checked, errors = check_application(conn, self.settings.reference, applicant, channel, level,
                                                allow_missing_id, consent)
            situation = applicant.get("situation")
            if isinstance(situation, Mapping) and situation:
                errors.update({f"situation.{k}": v for k, v in self.settings.forms.validate("situation",
                                                                                           dict(situation)).items()})
            files, file_errors = materials.check(uploads)
            if errors or file_errors or refusals or checked is None:
                raise refuse({**errors, **file_errors, **(refusals or {})})
            materials.save_files(self.settings.upload_dir, files)
            application = register(conn, checked, channel, level, green_channel, now, actor, org, query_code)
            if hotline_order is not None:
                store.insert_rows(conn, tables.HOTLINE, [{**hotline_order, "case_no": application.case_no,
                                                        "received_at": now}])
            store.insert_rows(conn, tables.ATTACHMENT, [
                {**m.record(), "case_no": application.case_no, "uploaded_by": actor, "uploaded_at": now}
                for m in files])
            instance_id = self._start(session, application, latest, green_channel, actor, now)
            return application.case_no, instance_id

    def _start(self, session: Session, application: Registered, definition: tuple[int, int], green_channel: bool,
               actor: str, now: datetime) -> int:
        return self._begin(session, application.case_no, definition, _initial_data(application, green_channel),
                           actor, now, {"channel": application.channel, "level": application.level,
                                        "green_channel": green_channel})

    def _begin(self, session: Session, case_no: str, definition: tuple[int, int], data: dict[str, Any],
               actor: str, now: datetime, event: dict[str, Any], message: str | None = None) -> int:
        """Create the instance of `definition` with its process data and run it to its first wait (a
        message start event gets the message `message`, its payload also in the variable `message`)."""
        definition_id, version = definition
        loaded = self.specs.get_by_id(session, definition_id)
        workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=self.workflows.script_engine)
        workflow.data.update(data)
        workflow.get_next_task(state=TaskState.READY).data.update(workflow.data)
        start = _message_start(loaded, message) if message else None
        if start is not None:
            workflow.do_engine_steps()
            payload = {k: v for k, v in data.items() if k not in ("case_no", STARTER)}
            workflow.catch(BpmnEvent(start, {"payload": payload, "result_var": "message"}))
        instance = store.insert_instance(session.connection(), {
            "definition_id": definition_id, "case_no": case_no, "status": OPEN, "state": "",
            "serializer_version": self.workflows.serializer.version, "started_at": now})
        record(session, case_no, "case_started", actor, now, data={**event, "definition_version": version})
        self.workflows.advance(session, instance, loaded, workflow, actor, now)
        return instance.id

    def start_process(self, key: str, data: Mapping[str, Any] | None = None, actor: str = "system",
                      message: str | None = None) -> tuple[str, int]:
        """Start the newest version of process `key` with initial process variables `data`; return its
        number (LC…) and instance id. Applications start the linkage flow through `start_case` instead.
        When `actor` is an active member of staff, tasks naming no one go to them (SpiffArena's rule)."""
        values = dict(data or {})
        bad = [k for k in values if not isinstance(k, str) or not k or k.startswith("_") or not k.isidentifier()]
        if bad:
            names = "、".join(map(str, bad))
            raise InvalidData("流程变量名无效", {"data": [f"变量名须为标识符且不以下划线开头：{names}"]})
        with self.workflows.transaction() as session:
            return self.start_process_in(session, key, values, actor, clock.now(), message=message)

    def start_process_in(self, session: Session, key: str, values: dict[str, Any], actor: str, now: datetime,
                         prefix: str = PROCESS_PREFIX, message: str | None = None,
                         case_no: str | None = None) -> tuple[str, int]:
        """`start_process` inside the caller's transaction (what starts it is stored with it, or neither);
        the number is `prefix` + date + sequence, or `case_no` when the caller took one already (to store,
        before the process runs, what its first steps read)."""
        conn = session.connection()
        latest = store.startable(conn, key)
        case_no = case_no or next_case_no(conn, now, prefix)
        if scoping.is_active_staff(session, actor):
            values[STARTER] = actor
        event = {"process": key, **({"message": message} if message else {}),
                 # a side process about a relief case (a 差评's rectification, an objection) names it
                 **({"relief_case_no": values["relief_case_no"]} if values.get("relief_case_no") else {})}
        instance_id = self._begin(session, case_no, latest, {"case_no": case_no, **values}, actor, now, event, message)
        return case_no, instance_id

    def start_by_message(self, name: str, data: Mapping[str, Any] | None = None,
                         actor: str = "system") -> list[dict[str, Any]]:
        """Start every deployed process whose start event waits for the message `name` (its newest version),
        the message's payload as the initial process variables; return [{case_no, process}]."""
        started = []
        with self.workflows.transaction() as session:
            keys = list(session.scalars(select(tables.DEFINITION.c.key).where(tables.DEFINITION.c.kind == "bpmn")
                                        .distinct()))
            waiting = [k for k in sorted(keys)
                       if _message_start(self.specs.get(latest_definition(session, k)), name)]  # type: ignore[arg-type]
        if not waiting:
            raise NotFound(f"没有以消息 {name} 启动的流程")
        for key in waiting:
            case_no, _ = self.start_process(key, data, actor, message=name)
            started.append({"case_no": case_no, "process": key})
        return started

    def complete_task(self, task_id: str, user: str, data: dict[str, Any],
                      principal: Principal | None = None) -> list[dict[str, Any]]:
        """Complete an open user task with form data; return the case's open tasks afterwards.

        With a `principal` the task must be within their scope (else NotFound) and theirs to
        work (else Forbidden), and only the open tasks they may see are returned; without one the
        caller is an operator tool (the CLI).
        """
        now = clock.now()
        forms = self.settings.forms
        with self.workflows.transaction() as session:
            instance, row = self._open_task(session, task_id, principal, scoping.may_work_task)
            choices = (row["context"] or {}).get("choices")
            errors = forms.validate(row["form_key"], data, choices) or self._catalog_errors(data)
            if errors:
                raise InvalidData("表单填写有误，请按提示修改", errors)
            loaded = self.specs.get_by_id(session, instance.definition_id)
            workflow = self.workflows.load(instance, loaded)
            task = workflow.get_task_from_id(UUID(task_id))
            if task is None or task.state != TaskState.READY:
                raise TaskConflict("该任务已不在待办状态，请刷新后重试")
            values = forms.apply_defaults(row["form_key"], data)
            task.data.update(values)
            _finish_row(session, row, user, values, now)
            open_rows = self.workflows.advance(session, instance, loaded, workflow, user, now, run=task)
            return [task_summary(r, now) for r in open_rows
                    if principal is None or scoping.may_see_task(principal, r)]

    def _catalog_errors(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        # The form schema knows the department codes; matter codes live in the editable catalog.
        matters = data.get("matters")
        if not isinstance(matters, list):
            return {}
        return self.settings.reference.matter_errors(matters)

    def claim_task(self, task_id: str, user: str, principal: Principal | None = None) -> dict[str, Any]:
        """Take an open task as one's own (认领); refused while someone else holds it."""
        return self._assign(task_id, user, "task_claimed", expect_free=True, principal=principal,
                            allowed=scoping.may_claim_task)

    def release_task(self, task_id: str, user: str, principal: Principal | None = None) -> dict[str, Any]:
        """Give a claimed task back to its candidate groups (退回组内)."""
        return self._assign(task_id, None, "task_released", actor=user, principal=principal,
                            allowed=scoping.holds_or_supervises)

    def assign_task(self, task_id: str, assignee: str, by: str,
                    principal: Principal | None = None, reason: str | None = None) -> dict[str, Any]:
        """Assign an open task to a colleague (by a supervisor, or an administrator with a reason)."""
        return self._assign(task_id, assignee, "task_assigned", actor=by, principal=principal,
                            allowed=scoping.may_assign_task, reason=reason)

    def reassign_task(self, case_no: str, task_id: str, assignee: str, by: str, reason: str) -> dict[str, Any]:
        """改派 by an administrator: a task of this case to one of its candidates, with a reason (logged)."""
        errors: dict[str, list[str]] = {}
        if not (reason or "").strip():
            errors["reason"] = ["请填写操作原因"]
        if not (assignee or "").strip():
            errors["assignee"] = ["请选择办理人"]
        if errors:
            raise InvalidData("请填写改派原因并选择办理人", errors)
        with self.workflows.transaction() as session:
            row = store.get_task(session.connection(), task_id)
        if row is None or row["case_no"] != case_no:
            raise NotFound("任务不存在")
        return self.assign_task(task_id, assignee.strip(), by=by, reason=reason.strip())

    def _assign(self, task_id: str, assignee: str | None, event: str, actor: str | None = None,
                expect_free: bool = False, principal: Principal | None = None,
                allowed: Any = None, reason: str | None = None) -> dict[str, Any]:
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            _instance, row = self._open_task(session, task_id, principal, allowed)
            if expect_free and row["assignee"] not in (None, assignee):
                holder = labels.actor_names(session, [row["assignee"]]).get(row["assignee"], row["assignee"])
                raise TaskConflict(f"该任务已由 {holder} 认领")
            if event == "task_assigned" and not scoping.is_candidate(session, str(assignee), row):
                raise InvalidData("无法指派", {"assignee": [
                    f"请选择可以办理该任务的同事：{assignee} 不是该任务候选组中的在岗人员"]})
            store.set_assignee(conn, task_id, assignee)
            details: dict[str, Any] = {"assignee": assignee, "previous": row["assignee"]}
            if reason:
                details["reason"] = reason
                # 改派 by an administrator is in the security audit log too
                audit(session, actor or str(assignee), "task_reassigned", now, row["case_no"], task=row["name"],
                      **details)
            record(session, row["case_no"], event, actor or str(assignee), now, task_id, row["name"], details)
            return task_summary({**row, "assignee": assignee}, now)

    def fire_timers(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Fire due BPMN timers of instances whose next timer is due; return what fired."""
        moment = clock.aware(now) if now is not None else clock.now()
        fired: list[dict[str, Any]] = []
        with self.workflows.transaction() as session:
            due_ids = store.due_timer_instances(session.connection(), moment)
        for instance_id in due_ids:
            fired.extend(self._fire_instance(instance_id, moment))
        return fired

    def _fire_instance(self, instance_id: int, moment: datetime) -> list[dict[str, Any]]:
        with clock.frozen_at(moment), self.workflows.transaction() as session:
            instance = self.workflows.lock_instance(session, instance_id)
            if instance.status != OPEN or instance.next_timer_at is None or instance.next_timer_at > moment:
                return []
            loaded = self.specs.get_by_id(session, instance.definition_id)
            workflow = self.workflows.load(instance, loaded)
            before = {str(t.id) for t in workflow.get_tasks(state=TaskState.WAITING)}
            workflow.refresh_timers()
            fired = [t for t in workflow.get_tasks(state=TaskState.READY | TaskState.COMPLETED)
                     if str(t.id) in before and _is_timer(t)]
            events = [{"case_no": instance.case_no, "timer": t.task_spec.bpmn_id,
                       "name": t.task_spec.bpmn_name, "department": t.data.get("department")} for t in fired]
            for event in events:
                record(session, instance.case_no, "timer_fired", "scheduler", moment, data=event)
            self.workflows.advance(session, instance, loaded, workflow, "scheduler", moment)
            return events

    def _open_task(self, session: Session, task_id: str, principal: Principal | None,
                   allowed: Any) -> tuple[InstanceState, Mapping[str, Any]]:
        """Lock the task's instance, then read the task as it is now: in scope, allowed, still open."""
        conn = session.connection()
        instance = store.lock_instance_of_task(conn, task_id)
        if instance is None:
            raise NotFound(f"任务 {task_id} 不存在")
        row = store.get_task(conn, task_id)
        assert row is not None
        scoping.check_task_access(principal, row, allowed)
        halted = status.halted_message(instance.status)
        if halted is not None:
            raise TaskConflict(halted)
        if row["state"] != READY:
            raise TaskConflict(_closed_message(row, labels.actor_names(session, [row["completed_by"]])))
        return instance, row


def _message_start(loaded: LoadedDefinition, name: str | None) -> Any:
    """The message event definition of a start event of the process waiting for `name`, if any."""
    for spec in loaded.spec.task_specs.values():
        definition = getattr(spec, "event_definition", None)
        if (isinstance(spec, StartEvent) and isinstance(definition, MessageEventDefinition)
                and definition.name == name):
            return definition
    return None


def _initial_data(application: Registered, green_channel: bool) -> dict[str, Any]:
    # Personal data (name, ID number, phone) stays in the application table, not in the flow.
    return {
        "case_no": application.case_no, "channel": application.channel, "level": application.level,
        "green_channel": green_channel, "request": application.request,
        "region": {"township": application.township, "village": application.village},
        "matters": list(application.matters),
        "situation": dict(application.situation),
    }


def _closed_message(row: Mapping[str, Any], names: Mapping[str, str]) -> str:
    if row["state"] == COMPLETED:
        who = names.get(row["completed_by"], row["completed_by"])
        return f"该任务已由 {who} 于 {clock.local_text(row['completed_at'])} 办理完成，无需重复提交"
    return "该任务已取消（流程已转入其他环节），无需办理"


def _finish_row(session: Session, row: Mapping[str, Any], user: str, values: dict[str, Any], now: datetime) -> None:
    task_id, case_no, name = row["id"], row["case_no"], row["name"]
    store.complete_task(session.connection(), task_id, user, now, values)
    record(session, case_no, "task_completed", user, now, task_id, name, values)
    decided = {k: values[k] for k in DECISION_FIELDS if k in values}
    if decided:
        extra: dict[str, Any] = {k: values[k] for k in DECISION_DETAILS if k in values}
        record(session, case_no, "decision", user, now, task_id, name, {**decided, **extra})


def _is_timer(task: Any) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)
