"""Try a draft before deploying it (试运行): run sample cases through it in memory only.

Each sample plays a case from its initial data, answering every user task with the values the
sample gives for that task, and checks where the case ends and which elements it passes. The
draft is parsed into specs exactly as the engine does and run with the same sandboxed script
engine and helpers; applicant notices are collected into the result, nothing is stored — no
database, no cases, no SMS.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.bpmn import budget
from engine.bpmn.definitions import known_groups
from engine.bpmn.design.draft import Draft, load_draft
from engine.bpmn.loader import NO_DEPENDENCIES, Dependencies
from engine.bpmn.messages import deliver, message_of
from engine.bpmn.sandbox import SandboxScriptEngine, explain
from engine.deadlines.policy import workday_deadline_helper
from engine.deadlines.workcal import WorkCalendar
from engine.i18n import _l
from engine.settings import Settings

MAX_STEPS = 200
Status = Literal["passed", "failed", "stuck", "error"]
STATUSES: tuple[str, ...] = get_args(Status)
STATUS_LABELS = {"passed": _l("符合预期"), "failed": _l("不符合预期"), "stuck": _l("停在人工环节"),
                 "error": _l("运行出错")}


@dataclass
class SampleResult:
    """How one sample ran through the draft, and whether it did what the sample expects."""

    name: str
    status: Status
    message: str = ""
    path: list[dict[str, str]] = field(default_factory=list)
    end: dict[str, str] | None = None
    notices: list[str] = field(default_factory=list)
    elements: set[str] = field(default_factory=set)
    element_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (elements sorted)."""
        return {"name": self.name, "status": self.status, "status_label": STATUS_LABELS[self.status],
                "message": self.message, "path": self.path,
                "end": self.end, "notices": self.notices, "elements": sorted(self.elements),
                "element_id": self.element_id}


def run_samples(xml: bytes, samples: list[dict[str, Any]], settings: Settings, calendar: WorkCalendar,
                filename: str = "draft.bpmn", key: str | None = None,
                dependencies: Dependencies = NO_DEPENDENCIES) -> list[SampleResult]:
    """Run each sample case through the draft in memory and report path, end and verdict.

    :raises BpmnRejected: when the draft cannot be parsed into a runnable process.
    """
    draft = load_draft(xml, filename, known_groups(settings), key, dependencies)
    # One budget for the whole trial: a runaway script stops the request within about a second,
    # and the samples after it fail at once instead of spending a second each.
    with budget.running():
        return [SampleRun(draft, sample, settings, calendar).run() for sample in samples]


class _Halt(Exception):
    """Stops a sample run before the workflow completes: stuck, step limit or bad sample data."""

    def __init__(self, status: Status, message: str, element_id: str | None):
        super().__init__(message)
        self.status, self.message, self.element_id = status, message, element_id


class SampleRun:
    """One sample played through a draft: decisions answer user tasks, timers fire on request."""

    def __init__(self, draft: Draft, sample: Mapping[str, Any], settings: Settings, calendar: WorkCalendar):
        self.draft, self.sample, self.forms, self.reference = draft, sample, settings.forms, settings.reference
        self.decisions: Mapping[str, Any] = sample.get("decisions") or {}
        self.messages: Mapping[str, Any] = sample.get("messages") or {}
        self.fire_timers = bool(sample.get("fire_timers", False))
        self.visits: dict[str, int] = {}  # user task id → how often it was answered (a list answers in turn)
        self.waits: dict[str, list[Any]] = {}  # element id → the task ids that waited there, in turn
        self.notices: list[str] = []
        self.published: list[str] = []
        self.steps = 0
        self.now = clock.now()
        # The helpers CaseEngine gives scripts, with notices kept here instead of queued for SMS.
        engine = SandboxScriptEngine({"notify_applicant": self._notify, "publish_notice": self._publish,
                                      "note_on_case": lambda *_args, **_details: None,
                                      "notify_case_applicant": lambda _case_no, kind, **_details: self._notify(kind),
                                      "complaint_step": lambda *_args, **_details: None,
                                      "workday_deadline": workday_deadline_helper(calendar, settings.due_policy)})
        self.workflow = BpmnWorkflow(draft.spec, draft.subprocess_specs, script_engine=engine)

    # -- the helpers scripts see, as the runtime's but captured here ------------------------

    def _notify(self, kind: str, **_details: Any) -> None:
        self.notices.append(str(kind))

    def _publish(self, department: Any, *_args: Any, **_details: Any) -> None:
        self.published.append(str(department))  # 救助公示 asked for; nothing is stored in a trial

    # -- running ---------------------------------------------------------------------------

    def run(self) -> SampleResult:
        """Play the sample to the end (or until it cannot go on) and judge it."""
        name = str(self.sample.get("name", ""))
        try:
            self._play()
        except _Halt as halt:
            return self._result(name, halt.status, halt.message, halt.element_id)
        except SpiffWorkflowException as err:
            element_id, message = self._explain(err)
            return self._result(name, "error", message, element_id)
        except Exception as err:  # noqa: BLE001 - a draft's scripts may raise anything; report, never crash
            return self._result(name, "error", f"运行出错：{explain(err)}", None)
        return self._judge(name)

    def _play(self) -> None:
        self.workflow.data.update(copy.deepcopy(dict(self.sample.get("data") or {})))
        self.workflow.get_next_task(state=TaskState.READY).data.update(self.workflow.data)
        self._engine_steps()
        while not self.workflow.is_completed():
            if self._deliver_message():
                continue
            if self.fire_timers and self._fire_next_timer():
                continue
            task, values = self._next_decision()
            self._complete(task, values)

    def _engine_steps(self, task: Task | None = None) -> None:
        with clock.frozen_at(self.now):
            if task is not None:
                task.run()
            self.workflow.do_engine_steps(will_complete_task=self._count)

    def _count(self, task: Task | None) -> None:
        """Count one step (a task run or a timer firing); a flow that loops ends at MAX_STEPS."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            element_id = task.task_spec.bpmn_id if task is not None else None
            where = f"，停在「{self.draft.label(element_id)}」" if element_id else ""
            raise _Halt("error", f"超过 {MAX_STEPS} 步仍未结束，流程可能存在循环{where}", element_id)

    def _fire_next_timer(self) -> bool:
        """Move the sample's clock to the earliest waiting timer and let it fire."""
        moments = [m for m in (_moment(e.value) for e in self.workflow.waiting_events()) if m is not None]
        if not moments:
            return False
        self._count(None)
        self.now = max(self.now, min(moments))
        with clock.frozen_at(self.now):
            self.workflow.refresh_timers()
        self._engine_steps()
        return True

    def _message_for(self, task: Task) -> Mapping[str, Any] | None:
        """The sample's message for this wait at `task`'s element: the one given, or of a list the one for
        this visit (null: none this time, so a timer may fire instead)."""
        planned = self.messages.get(task.task_spec.bpmn_id)
        if isinstance(planned, list):
            seen = self.waits.setdefault(task.task_spec.bpmn_id, [])
            if task.id not in seen:
                seen.append(task.id)
            index = seen.index(task.id)
            planned = planned[index] if index < len(planned) else None
        return planned if isinstance(planned, Mapping) else None

    def _deliver_message(self) -> bool:
        """With no user task to answer, deliver the sample's message to an element waiting for one."""
        if self.workflow.get_tasks(state=TaskState.READY, manual=True):
            return False
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            name = message_of(task)
            payload = self._message_for(task) if name else None
            if name and payload is not None:
                self._count(task)
                with clock.frozen_at(self.now):
                    deliver(self.workflow, name, copy.deepcopy(dict(payload)))
                self._engine_steps()
                return True
        return False

    def _next_decision(self) -> tuple[Task, dict[str, Any]]:
        ready = self.workflow.get_tasks(state=TaskState.READY, manual=True)
        for task in ready:
            values = self._decision_for(task)
            if values is not None:
                return task, values
        if ready:
            first = ready[0]
            department = first.data.get("department")
            who = f"（{self.reference.department_name(department)}）" if department else ""
            raise _Halt("stuck", f"「{self.draft.label(first.task_spec.bpmn_id)}」{who}没有样例决定，流程停在此处",
                        first.task_spec.bpmn_id)
        waiting = [t for t in self.workflow.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id]
        element_id = waiting[0].task_spec.bpmn_id if waiting else None
        hint = ("（可在样例中设置 fire_timers: true 让定时器触发，或用 messages 给等待的环节送达消息）"
                if waiting and not self.fire_timers else "")
        raise _Halt("stuck", f"流程未结束，也没有可办理的任务，正在等待「{self.draft.label(element_id)}」{hint}",
                    element_id)

    def _decision_for(self, task: Task) -> dict[str, Any] | None:
        decision = self.decisions.get(task.task_spec.bpmn_id)
        if isinstance(decision, list) and decision:  # one answer per visit, the last one repeated
            decision = decision[min(self.visits.get(task.task_spec.bpmn_id, 0), len(decision) - 1)]
        if not isinstance(decision, Mapping):
            return None
        by_department = decision.get("by_department")
        if isinstance(by_department, Mapping):
            decision = by_department.get(task.data.get("department"))
        return copy.deepcopy(dict(decision)) if isinstance(decision, Mapping) else None

    def _complete(self, task: Task, values: dict[str, Any]) -> None:
        """Fill and complete a user task as `CaseEngine.complete_task` would: form check, defaults."""
        element_id = task.task_spec.bpmn_id
        self.visits[element_id] = self.visits.get(element_id, 0) + 1
        meta = self.draft.model.user_tasks.get(element_id)
        if meta is not None and meta.form_key in self.forms.known_keys():
            errors = self.forms.validate(meta.form_key, values)
            if errors:
                detail = "；".join(f"{k}：{'、'.join(v)}" for k, v in errors.items())
                where = self.draft.label(element_id)
                raise _Halt("error", f"样例为「{where}」填写的数据不符合表单 {meta.form_key}：{detail}", element_id)
            values = self.forms.apply_defaults(meta.form_key, values)
        task.data.update(values)
        self._count(task)
        self._engine_steps(task)

    def _explain(self, err: SpiffWorkflowException) -> tuple[str | None, str]:
        """Name the element that failed; for a gateway, the outgoing flow whose condition failed."""
        failed = getattr(err, "task", None)
        spec = failed.task_spec if failed is not None else getattr(err, "task_spec", None)
        element_id = getattr(spec, "bpmn_id", None)
        # Some failures ("No conditions satisfied") carry only the spec; the task is left in ERROR.
        task = next((t for t in self._all_tasks() if t.state == TaskState.ERROR and t.task_spec is spec), None)
        where = self.draft.label(element_id)
        flows = self.draft.conditional_flows(element_id) if element_id else []
        if task is None or not flows:
            return element_id, f"「{where}」运行出错：{explain(err)}"
        for flow_id, condition in flows:
            try:
                with clock.frozen_at(self.now):
                    self.workflow.script_engine.environment.evaluate(condition, task.data)
            except Exception as cause:  # noqa: BLE001 - this is the failure being explained
                return flow_id, (f"「{where}」的顺序流「{self.draft.label(flow_id)}」条件表达式 {condition!r} "
                                 f"运行出错：{explain(cause)}")
        return element_id, f"「{where}」没有可走的出口：所有条件都不成立，且未设置默认顺序流"

    # -- the verdict -----------------------------------------------------------------------

    def _judge(self, name: str) -> SampleResult:
        result = self._result(name, "passed", "", None)
        expect = self.sample.get("expect") or {}
        reached = result.end["id"] if result.end else None
        complaints = []
        if expect.get("end") and reached != expect["end"]:
            complaints.append(f"期望结束于「{self.draft.label(expect['end'])}」，实际结束于「{self.draft.label(reached)}」")
        complaints += [f"期望经过「{self.draft.label(i)}」，实际未经过" for i in expect.get("visits", [])
                       if i not in result.elements]
        complaints += [f"不应经过「{self.draft.label(i)}」，实际经过了" for i in expect.get("not_visits", [])
                       if i in result.elements]
        if complaints:
            result.status, result.message = "failed", "；".join(complaints)
        else:
            result.message = f"符合预期：结束于「{self.draft.label(reached)}」"
        return result

    def _result(self, name: str, status: Status, message: str, element_id: str | None) -> SampleResult:
        done = self._completed_nodes()
        path = [self._step(t) for t in done]
        return SampleResult(name, status, message, path, self._end(done), list(self.notices),
                            {p["id"] for p in path} | self._flows_taken(done), element_id)

    def _completed_nodes(self) -> list[Task]:
        """Completed tasks that are BPMN elements of the draft, in the order they completed."""
        tasks = self._all_tasks()
        # Spiff's own tasks (Start, End, *.EndJoin, boundary splits) and multi-instance children
        # ('dept_handling [child]') are not drawn on the diagram.
        nodes = [t for t in tasks if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id in self.draft.elements
                 and t.task_spec.name == t.task_spec.bpmn_id]
        return sorted(nodes, key=lambda t: t.last_state_change)

    def _all_tasks(self) -> list[Task]:
        tasks = list(self.workflow.tasks.values())
        for subprocess in self.workflow.subprocesses.values():
            tasks.extend(subprocess.tasks.values())
        return tasks

    def _step(self, task: Task) -> dict[str, str]:
        step = {"id": task.task_spec.bpmn_id, "name": self.draft.shown(task.task_spec.bpmn_id)}
        department = task.data.get("department") if task.workflow is not self.workflow else None
        if isinstance(department, str):
            step["department"] = department
            step["name"] += f"（{self.reference.department_name(department)}）"
        return step

    def _end(self, done: list[Task]) -> dict[str, str] | None:
        statuses = self.draft.model.end_statuses
        ends = [t.task_spec.bpmn_id for t in done if t.workflow is self.workflow and t.task_spec.bpmn_id in statuses]
        if not self.workflow.is_completed() or not ends:
            return None
        return {"id": ends[-1], "name": self.draft.label(ends[-1]), "caseStatus": statuses[ends[-1]]}

    def _flows_taken(self, done: list[Task]) -> set[str]:
        """Sequence flows between each completed node and the node it was reached from."""
        pairs = set()
        for task in done:
            parent = task.parent
            while parent is not None and parent.task_spec.bpmn_id not in self.draft.elements:
                parent = parent.parent
            if parent is not None:
                pairs.add((parent.task_spec.bpmn_id, task.task_spec.bpmn_id))
        return {i for i, e in self.draft.elements.items() if (e.source, e.target) in pairs}


def _moment(value: Any) -> datetime | None:
    # timeDate/timeDuration timers wait on an ISO moment; cycles on {"next": ISO moment, ...}.
    if isinstance(value, dict):
        value = value.get("next")
    if not isinstance(value, str):
        return None
    try:
        return clock.aware(datetime.fromisoformat(value))
    except ValueError:
        return None
