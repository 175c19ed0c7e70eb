"""Instance administration (实例管理): suspend, resume, terminate and migrate a running case.

`InstanceAdmin` is a mixin of `CaseEngine`, like `CaseQueries`: every action runs in the
engine's transaction, locks the instance row, refuses with a Chinese message when the case is
not in a state that allows it, and writes one event with the actor and the reason.

Migration moves a case onto another deployed version of its process. The stored state names
task specs by name, so the state is loaded onto the target version's specs; it is allowed only
when every active task (user task or not, in subprocesses too) has a spec of the same id and
kind in the target. Predicted (not yet reached) tasks are re-predicted where the target's
flow differs, so a step added downstream is not skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.bpmn.definitions import LoadedDefinition, SpecCache
from engine.bpmn.serializer import StateSerializer
from engine.cases import store
from engine.cases.tasks import TaskMirror, record, resolve_groups
from engine.deadlines.workcal import WorkCalendar
from engine.errors import InvalidData, NotFound, TaskConflict, WorkflowFailure
from engine.models import ProcessDefinition

OPEN, SUSPENDED, TERMINATED, ERROR = "open", "suspended", "terminated", "error"
STATUS_NAMES = {OPEN: "办理中", SUSPENDED: "已挂起", TERMINATED: "已终止", ERROR: "流程出错",
                "closed_completed": "办结", "closed_declined": "不予受理"}
MAX_REASON = 500

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
PREDICTED = TaskState.FUTURE | TaskState.PREDICTED_MASK
_HALTED = {SUSPENDED: "案件已挂起，暂停办理，请待管理员恢复后再办理",
           TERMINATED: "案件已终止，任务已取消，无需办理",
           ERROR: "案件流程执行出错，已转管理员处理，请待修复后再办理"}


def halted_message(status: str) -> str | None:
    """Why tasks of a case with this status may not be worked, or None when they may."""
    return _HALTED.get(status)


class InstanceAdmin:
    """Administrative actions of `CaseEngine` (a mixin: it uses the engine's transaction and loaders)."""

    specs: SpecCache
    serializer: StateSerializer
    script_engine: Any
    calendar: WorkCalendar

    def _transaction(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def _lock_instance(self, session: Session, instance_id: int) -> store.InstanceState:
        raise NotImplementedError

    def _load(self, instance: store.InstanceState, loaded: LoadedDefinition) -> BpmnWorkflow:
        raise NotImplementedError

    def _store_workflow(self, session: Session, instance: store.InstanceState, workflow: BpmnWorkflow) -> None:
        raise NotImplementedError

    def _advance(self, session: Session, instance: store.InstanceState, loaded: LoadedDefinition,
                 workflow: BpmnWorkflow, actor: str, now: Any, run: Any = None) -> list[Mapping[str, Any]]:
        raise NotImplementedError

    # -- suspend, resume, terminate -----------------------------------------------------

    def suspend_case(self, case_no: str, actor: str, reason: str) -> dict[str, Any]:
        """Suspend an open case (挂起): its tasks cannot be worked and its timers wait."""
        return self._change_status(case_no, actor, reason, "挂起", OPEN, SUSPENDED, "case_suspended")

    def resume_case(self, case_no: str, actor: str, reason: str) -> dict[str, Any]:
        """Resume a suspended case (恢复); timers that fell due meanwhile fire on the next tick."""
        return self._change_status(case_no, actor, reason, "恢复", SUSPENDED, OPEN, "case_resumed")

    def _change_status(self, case_no: str, actor: str, reason: str, verb: str, before: str, after: str,
                       event: str) -> dict[str, Any]:
        reason = _checked_reason(actor, reason)
        now = clock.now()
        with self._transaction() as session:
            instance = self._lock_case(session, case_no)
            _require(instance, (before,), verb)
            # next_timer_at stays: the timer index only selects open cases, so resuming restores it.
            instance.status = after
            store.save_instance(session.connection(), instance)
            record(session, case_no, event, actor, now, data={"reason": reason})
            return {"case_no": case_no, "status": after}

    def terminate_case(self, case_no: str, actor: str, reason: str) -> dict[str, Any]:
        """Terminate an open or suspended case (终止): cancel its workflow and open tasks; final."""
        reason = _checked_reason(actor, reason)
        now = clock.now()
        with self._transaction() as session:
            conn = session.connection()
            instance, loaded, workflow = self._locked_workflow(session, case_no, (OPEN, SUSPENDED, ERROR), "终止")
            record(session, case_no, "case_terminated", actor, now,
                   data={"reason": reason, "previous": instance.status})
            workflow.cancel()
            cancelled = list(store.open_tasks_of_instance(conn, instance.id))
            # With no READY task left the mirror cancels every open row and logs task_cancelled.
            TaskMirror(session, instance, loaded, self.calendar).sync(workflow, actor, now)
            instance.status, instance.ended_at, instance.next_timer_at = TERMINATED, now, None
            self._store_workflow(session, instance, workflow)
            return {"case_no": case_no, "status": TERMINATED, "cancelled_tasks": cancelled}

    # -- errored steps --------------------------------------------------------------------

    def retry_task(self, case_no: str, task_id: str, data: Mapping[str, Any] | None, actor: str,
                   reason: str) -> dict[str, Any]:
        """Run an errored step again (重试), after merging `data` (corrected values) into its data.

        A step errs when its script or a gateway condition fails at run time; the case then
        stops in status `error` (see `CaseEngine._advance`). If the retry fails again the case
        stays in error with a new `task_error` event; otherwise it reopens and runs on.
        """
        reason = _checked_reason(actor, reason)
        patch = _checked_patch(data)
        now = clock.now()
        with self._transaction() as session:
            instance, loaded, workflow = self._locked_workflow(session, case_no, (ERROR,), "重试")
            task = _errored_task(workflow, task_id)
            record(session, case_no, "task_retried", actor, now, task_id, task.task_spec.bpmn_name or _label(task),
                   {"reason": reason, "element": _label(task), "changed": sorted(patch)})
            workflow.reset_from_task_id(task.id, {**task.data, **patch})
            instance.status = OPEN
            self._advance(session, instance, loaded, workflow, actor, now)
            return {"case_no": case_no, "status": instance.status}

    def errored_tasks(self, case_no: str) -> list[dict[str, Any]]:
        """The steps of a case in ERROR state: id, element, name and their data (for repair)."""
        with self._transaction() as session:
            instance = self._find_case(session, case_no)
            loaded = self.specs.get_by_id(session, instance.definition_id)
            workflow = self.serializer.load(instance.state, instance.serializer_version,
                                            loaded.spec, loaded.subprocess_specs)
            return errored_steps(workflow)

    # -- migration ------------------------------------------------------------------------

    def migration_check(self, case_no: str, to_version: int) -> dict[str, Any]:
        """Say whether a case can move to `to_version`: every active task must exist there by id.

        `missing` lists the ids of active tasks absent from the target (or of another kind);
        `missing_completed` the ids of finished (completed or cancelled) steps the target no
        longer has, without which the stored state cannot be expressed on it.
        """
        with self._transaction() as session:
            instance = self._find_case(session, case_no)
            source = self.specs.get_by_id(session, instance.definition_id)
            target = self._version(session, source.key, to_version)
            workflow = self.serializer.load(instance.state, instance.serializer_version,
                                            source.spec, source.subprocess_specs)
            return compatibility(workflow, target)

    def migrate_case(self, case_no: str, to_version: int, actor: str, reason: str) -> dict[str, Any]:
        """Move an open, suspended or errored case onto another deployed version when the check allows it.

        An errored case can be moved onto a version whose corrected expression is then retried.
        """
        reason = _checked_reason(actor, reason)
        now = clock.now()
        with self._transaction() as session:
            conn = session.connection()
            instance, source, workflow = self._locked_workflow(session, case_no, (OPEN, SUSPENDED, ERROR), "迁移")
            target = self._version(session, source.key, to_version)
            if target.id == source.id:
                raise TaskConflict(f"案件 {case_no} 已在版本 {target.version} 上运行，无需迁移")
            check = compatibility(workflow, target)
            if not check["safe"]:
                raise TaskConflict(_unsafe_message(check, target.version))
            try:
                moved = self._move(workflow, source, target)
            except SpiffWorkflowException as err:
                raise WorkflowFailure(f"迁移到版本 {target.version} 失败：{err}") from err
            instance.state = self.serializer.dump(moved)
            instance.serializer_version = self.serializer.version
            store.save_instance(conn, instance)
            conn.execute(update(store.INSTANCE).where(store.INSTANCE.c.id == instance.id)
                         .values(definition_id=target.id))
            instance.definition_id = target.id
            _refresh_open_rows(session, instance, target, moved)
            record(session, case_no, "case_migrated", actor, now,
                   data={"from": source.version, "to": target.version, "reason": reason})
            return {"case_no": case_no, "from_version": source.version, "to_version": target.version}

    def _move(self, workflow: BpmnWorkflow, source: LoadedDefinition, target: LoadedDefinition) -> BpmnWorkflow:
        """Load the workflow's state onto the target specs, then re-predict where the flow changed."""
        state = json.loads(self.serializer.dump(workflow))
        _prune(state, target.spec)
        for sub in state["subprocesses"].values():
            _prune(sub, target.subprocess_specs[sub["spec"]])
        moved = self.serializer.load(json.dumps(state), self.serializer.version,
                                     target.spec, target.subprocess_specs)
        moved.script_engine = self.script_engine
        for process in (moved, *moved.subprocesses.values()):
            name = process.spec.name
            before = source.spec if process is moved else source.subprocess_specs[name]
            changed = _changed_specs(before, process.spec)
            if changed:
                _repredict(process.task_tree, changed)
        return moved

    # -- lookups ---------------------------------------------------------------------------

    @staticmethod
    def _find_case(session: Session, case_no: str) -> store.InstanceState:
        instance = store.find_instance(session.connection(), case_no)
        if instance is None:
            raise NotFound(f"案件 {case_no} 不存在")
        return instance

    def _lock_case(self, session: Session, case_no: str) -> store.InstanceState:
        return self._lock_instance(session, self._find_case(session, case_no).id)

    def _locked_workflow(self, session: Session, case_no: str, allowed: tuple[str, ...],
                         verb: str) -> tuple[store.InstanceState, LoadedDefinition, BpmnWorkflow]:
        """Lock a case that is in one of the `allowed` statuses (else refuse) and load its workflow."""
        instance = self._lock_case(session, case_no)
        _require(instance, allowed, verb)
        loaded = self.specs.get_by_id(session, instance.definition_id)
        return instance, loaded, self._load(instance, loaded)

    def _version(self, session: Session, key: str, version: int) -> LoadedDefinition:
        definition = session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version)).first()
        if definition is None:
            raise NotFound(f"流程 {key} 没有版本 {version}")
        return self.specs.get(definition)


def _checked_reason(actor: str, reason: str | None) -> str:
    errors: dict[str, list[str]] = {}
    if not (actor or "").strip():
        errors["actor"] = ["请注明操作人"]
    text = (reason or "").strip()
    if not text:
        errors["reason"] = ["请填写操作原因"]
    elif len(text) > MAX_REASON:
        errors["reason"] = [f"操作原因不能超过 {MAX_REASON} 字"]
    if errors:
        raise InvalidData("操作人和原因必须填写", errors)
    return text


def _checked_patch(data: Mapping[str, Any] | None) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not all(isinstance(k, str) and k.isidentifier() for k in data):
        raise InvalidData("修正数据格式有误", {"data": ["请填写 JSON 对象，键为字段名（字母、数字、下划线）"]})
    try:
        json.dumps(dict(data))
    except (TypeError, ValueError) as err:
        raise InvalidData("修正数据格式有误", {"data": [f"无法保存为 JSON：{err}"]}) from err
    return dict(data)


def errored_steps(workflow: BpmnWorkflow) -> list[dict[str, Any]]:
    """The steps of a workflow in ERROR state: id, element, name and their data (for repair)."""
    return [{"id": str(t.id), "element": _label(t), "name": t.task_spec.bpmn_name or _label(t), "data": t.data}
            for t in workflow_tasks(workflow, TaskState.ERROR)]


def _errored_task(workflow: BpmnWorkflow, task_id: str) -> Task:
    try:
        task: Task | None = workflow.get_task_from_id(UUID(task_id))
    except (ValueError, SpiffWorkflowException):
        task = None
    if task is None or task.state != TaskState.ERROR:
        raise TaskConflict("该环节不是出错状态，无需重试，请刷新页面")
    return task


def _require(instance: store.InstanceState, allowed: tuple[str, ...], verb: str) -> None:
    status = instance.status
    if status in allowed:
        return
    if status == SUSPENDED and verb == "挂起":
        raise TaskConflict(f"案件 {instance.case_no} 已挂起，无需重复挂起")
    if status == OPEN and verb == "恢复":
        raise TaskConflict(f"案件 {instance.case_no} 未挂起，无需恢复")
    raise TaskConflict(f"案件 {instance.case_no} 当前状态为“{STATUS_NAMES.get(status, status)}”，不能{verb}")


def _processes(workflow: BpmnWorkflow) -> list[BpmnWorkflow]:
    return [workflow, *workflow.subprocesses.values()]


def workflow_tasks(workflow: BpmnWorkflow, state: int = TaskState.ANY_MASK) -> list[Task]:
    """Every task of the workflow and all its subprocesses in `state`, each once.

    SpiffWorkflow's iterator descends into subprocesses only along some states, so each
    (sub)process is asked separately and the results are merged by task id.
    """
    found: dict[UUID, Task] = {}
    for process in _processes(workflow):
        for task in process.get_tasks(state=state):
            found.setdefault(task.id, task)
    return list(found.values())


def _label(task: Task) -> str:
    return str(task.task_spec.bpmn_id or task.task_spec.name)


def compatibility(workflow: BpmnWorkflow, target: LoadedDefinition) -> dict[str, Any]:
    """Compare a workflow's tasks with a target version's specs (see `migration_check`)."""
    missing: list[str] = []
    missing_completed: list[str] = []
    for process in _processes(workflow):
        spec = target.spec if process is workflow else target.subprocess_specs.get(process.spec.name)
        specs = spec.task_specs if spec is not None else {}
        for task in process.tasks.values():
            new = specs.get(task.task_spec.name)
            if task.has_state(ACTIVE):
                if new is None or type(new) is not type(task.task_spec) or new.bpmn_id != task.task_spec.bpmn_id:
                    missing.append(_label(task))
            elif task.has_state(TaskState.FINISHED_MASK) and new is None:
                missing_completed.append(_label(task))
    missing, missing_completed = sorted(set(missing)), sorted(set(missing_completed))
    return {"safe": not missing and not missing_completed, "missing": missing,
            "missing_completed": missing_completed}


def _unsafe_message(check: Mapping[str, Any], version: int) -> str:
    parts = []
    if check["missing"]:
        parts.append(f"本案件当前环节在版本 {version} 中不存在或类型已变：{'、'.join(check['missing'])}")
    if check["missing_completed"]:
        parts.append(f"本案件已办环节在版本 {version} 中不存在：{'、'.join(check['missing_completed'])}")
    return "不能迁移，" + "；".join(parts)


def _prune(process: dict[str, Any], spec: BpmnProcessSpec) -> None:
    """Drop the predicted tasks of a serialized process whose spec the target lacks (their
    parents' flow changed, so they are predicted again after loading)."""
    tasks: dict[str, Any] = process["tasks"]
    for task_id, task in list(tasks.items()):
        if task_id in tasks and task["state"] & PREDICTED and task["task_spec"] not in spec.task_specs:
            _drop_subtree(tasks, task_id)


def _drop_subtree(tasks: dict[str, Any], task_id: str) -> None:
    task = tasks.pop(task_id)
    for child in task["children"]:
        if child in tasks:
            _drop_subtree(tasks, child)
    parent = tasks.get(task["parent"]) if task["parent"] else None
    if parent is not None and task_id in parent["children"]:
        parent["children"].remove(task_id)


def _changed_specs(before: BpmnProcessSpec, after: BpmnProcessSpec) -> set[str]:
    """Names of the target's task specs whose outgoing flow differs from the source's."""
    def outputs(spec: BpmnProcessSpec, name: str) -> list[str] | None:
        task_spec = spec.task_specs.get(name)
        return sorted(o.name for o in task_spec.outputs) if task_spec is not None else None

    return {name for name in after.task_specs if outputs(before, name) != outputs(after, name)}


def _repredict(task: Task, changed: set[str]) -> None:
    """Rebuild the predicted branches below unfinished tasks whose outgoing flow changed."""
    if task.has_state(TaskState.NOT_FINISHED_MASK) and task.task_spec.name in changed:
        _repredict_branch(task)
        return
    for child in list(task.children):
        _repredict(child, changed)


def _repredict_branch(task: Task) -> None:
    for child in list(task.children):
        if child.has_state(PREDICTED) and not child.triggered:
            task.workflow._remove_task(child.id)
    if task.has_state(PREDICTED):
        task.task_spec._predict(task, mask=PREDICTED)
        return
    known = {child.id for child in task.children}
    task.task_spec._predict_hook(task)
    for child in task.children:
        if child.id in known:
            continue
        # What follows a waiting event may never happen (a boundary timer); a definite
        # prediction there would make a downstream join wait for it.
        if task.has_state(TaskState.WAITING):
            child._set_state(TaskState.MAYBE)
        child.task_spec._predict(child, mask=PREDICTED)


def _refresh_open_rows(session: Session, instance: store.InstanceState, target: LoadedDefinition,
                       workflow: BpmnWorkflow) -> None:
    """Give the open task rows the target version's names, forms and candidate groups."""
    conn = session.connection()
    for task_id, row in store.open_tasks_of_instance(conn, instance.id).items():
        meta = target.model.user_tasks.get(row["task_spec"])
        task = workflow.get_task_from_id(UUID(task_id))
        if meta is None or task is None:
            continue
        groups = resolve_groups(workflow, task, meta.candidate_groups)
        if (meta.name, meta.form_key, groups) == (row["name"], row["form_key"], list(row["candidate_groups"])):
            continue
        conn.execute(update(store.TASK).where(store.TASK.c.id == task_id).values(
            name=meta.name, form_key=meta.form_key, candidate_groups=groups))
        conn.execute(delete(store.TASK_GROUP).where(store.TASK_GROUP.c.task_id == task_id))
        store.insert_rows(conn, store.TASK_GROUP, [{"task_id": task_id, "group_code": g} for g in groups])
