"""Instance administration (实例管理): suspend, resume, terminate and migrate a running case.

`InstanceAdmin` is `CaseEngine.admin`: every action runs in one transaction of the engine's
`Workflows`, locks the instance row, refuses with a Chinese message when the case's status does not
allow it (`engine.status`), and writes one event with the actor and the reason, which the security audit
log keeps too.

Migration moves a case onto another deployed version of its process. The stored state names
task specs by name, so the state is loaded onto the target version's specs; it is allowed only
when every active task (user task or not, in subprocesses too) has a spec of the same id and
kind in the target. Predicted (not yet reached) tasks are re-predicted where the target's
flow differs, so a step added downstream is not skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.util.diff import diff_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine import clock, status, tables
from engine.audit.chain import audit
from engine.bpmn.definitions import LoadedDefinition, definitions_of
from engine.bpmn.sandbox import explain
from engine.cases import inbox_index, store
from engine.cases.tasks import record, resolve_groups
from engine.cases.workflows import Workflows, require, workflow_tasks
from engine.errors import InvalidData, NotFound, TaskConflict, WorkflowFailure
from engine.models import ProcessDefinition

MAX_REASON = 500
ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
PREDICTED = TaskState.FUTURE | TaskState.PREDICTED_MASK


class InstanceAdmin:
    """Administrative actions on running cases (`CaseEngine.admin`); each one transaction."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows

    # -- suspend, resume, terminate -----------------------------------------------------

    def suspend_case(self, case_no: str, actor: str, reason: str) -> dict[str, Any]:
        """Suspend an open case (挂起): its tasks cannot be worked and its timers wait."""
        return self._change_status(case_no, actor, reason, "suspend", status.SUSPENDED, "case_suspended")

    def resume_case(self, case_no: str, actor: str, reason: str) -> dict[str, Any]:
        """Resume a suspended case (恢复); timers that fell due meanwhile fire on the next tick."""
        return self._change_status(case_no, actor, reason, "resume", status.OPEN, "case_resumed")

    def change_status(self, case_no: str, action: str, actor: str, reason: str) -> dict[str, Any]:
        """Suspend, resume or terminate by the action's name (the instance page's buttons)."""
        actions = {"suspend": self.suspend_case, "resume": self.resume_case, "terminate": self.terminate_case}
        if action not in actions:
            raise NotFound(f"未知的操作：{action}")
        return actions[action](case_no, actor, reason)

    def _change_status(self, case_no: str, actor: str, reason: str, action: str, after: str,
                       event: str) -> dict[str, Any]:
        reason = _checked_reason(actor, reason)
        now = clock.now()
        with self.workflows.transaction() as session:
            instance = self.workflows.lock_instance(session, self.workflows.find_case(session, case_no).id)
            require(instance, action)
            # next_timer_at stays: the timer index only selects open cases, so resuming restores it.
            instance.status = after
            store.save_instance(session.connection(), instance)
            record(session, case_no, event, actor, now, data={"reason": reason})
            audit(session, actor, event, now, case_no, reason=reason)
            return {"case_no": case_no, "status": after}

    def terminate_case(self, case_no: str, actor: str, reason: str) -> dict[str, Any]:
        """Terminate an open, suspended or errored case (终止): cancel its workflow and open tasks; final."""
        reason = _checked_reason(actor, reason)
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            instance, loaded, workflow = self.workflows.locked_workflow(session, case_no, "terminate")
            record(session, case_no, "case_terminated", actor, now,
                   data={"reason": reason, "previous": instance.status})
            audit(session, actor, "case_terminated", now, case_no, reason=reason, previous=instance.status)
            workflow.cancel()
            cancelled = list(store.open_tasks_of_instance(conn, instance.id))
            # With no READY task left the mirror cancels every open row and logs task_cancelled.
            self.workflows.mirror(session, instance, loaded).sync(workflow, actor, now)
            instance.status, instance.ended_at, instance.next_timer_at = status.TERMINATED, now, None
            self.workflows.store_workflow(session, instance, workflow)
            return {"case_no": case_no, "status": status.TERMINATED, "cancelled_tasks": cancelled}

    # -- errored steps --------------------------------------------------------------------

    def retry_task(self, case_no: str, task_id: str, data: Mapping[str, Any] | None, actor: str,
                   reason: str) -> dict[str, Any]:
        """Run an errored step again (重试), after merging `data` (corrected values) into its data.

        A step errs when its script or a gateway condition fails at run time; the case then
        stops in status `error`. If the retry fails again the case stays in error with a new
        `task_error` event; otherwise it reopens and runs on.
        """
        reason = _checked_reason(actor, reason)
        patch = _checked_patch(data)
        now = clock.now()
        with self.workflows.transaction() as session:
            instance, loaded, workflow = self.workflows.locked_workflow(session, case_no, "retry")
            task = _errored_task(workflow, task_id)
            record(session, case_no, "task_retried", actor, now, task_id, task.task_spec.bpmn_name or _label(task),
                   {"reason": reason, "element": _label(task), "changed": sorted(patch)})
            audit(session, actor, "task_retried", now, case_no, reason=reason, element=_label(task),
                  changed=sorted(patch))
            workflow.reset_from_task_id(task.id, {**task.data, **patch})
            instance.status = status.OPEN
            self.workflows.advance(session, instance, loaded, workflow, actor, now)
            return {"case_no": case_no, "status": instance.status}

    def errored_tasks(self, case_no: str) -> list[dict[str, Any]]:
        """The steps of a case in ERROR state: id, element, name and their data (for repair)."""
        with self.workflows.transaction() as session:
            instance = self.workflows.find_case(session, case_no)
            loaded = self.workflows.specs.get_by_id(session, instance.definition_id)
            return errored_steps(self.workflows.restore(instance, loaded))

    # -- migration ------------------------------------------------------------------------

    def migration_check(self, case_no: str, to_version: int) -> dict[str, Any]:
        """Say whether a case can move to `to_version`: every active task must exist there by id.

        `missing` lists the ids of active tasks absent from the target (or of another kind);
        `missing_completed` the ids of finished (completed or cancelled) steps the target no
        longer has, without which the stored state cannot be expressed on it.
        """
        with self.workflows.transaction() as session:
            instance = self.workflows.find_case(session, case_no)
            source = self.workflows.specs.get_by_id(session, instance.definition_id)
            target = self._version(session, source.key, to_version)
            return compatibility(self.workflows.restore(instance, source), target, self.workflows.serializer.registry)

    def migration_checks(self, case_no: str) -> dict[int, dict[str, Any]]:
        """The migration verdict of every other deployed version of the case's process (newest first)."""
        with self.workflows.transaction() as session:
            instance = self.workflows.find_case(session, case_no)
            if status.is_final(instance.status):
                return {}
            source = self.workflows.specs.get_by_id(session, instance.definition_id)
            workflow = self.workflows.restore(instance, source)
            others = [d for d in definitions_of(session, source.key) if d.version != source.version]
            registry = self.workflows.serializer.registry
            return {d.version: compatibility(workflow, self.workflows.specs.get(d), registry) for d in others}

    def migrate_case(self, case_no: str, to_version: int, actor: str, reason: str) -> dict[str, Any]:
        """Move an open, suspended or errored case onto another deployed version when the check allows it.

        An errored case can be moved onto a version whose corrected expression is then retried.
        """
        reason = _checked_reason(actor, reason)
        now = clock.now()
        with self.workflows.transaction() as session:
            conn = session.connection()
            instance, source, workflow = self.workflows.locked_workflow(session, case_no, "migrate")
            target = self._version(session, source.key, to_version)
            if target.id == source.id:
                raise TaskConflict(f"案件 {case_no} 已在版本 {target.version} 上运行，无需迁移")
            check = compatibility(workflow, target, self.workflows.serializer.registry)
            if not check["safe"]:
                raise TaskConflict(_unsafe_message(check, target.version))
            try:
                moved = self._move(workflow, source, target)
            except SpiffWorkflowException as err:
                raise WorkflowFailure(f"迁移到版本 {target.version} 失败：{explain(err)}") from err
            serializer = self.workflows.serializer
            instance.state = serializer.dump(moved)
            instance.serializer_version = serializer.version
            store.save_instance(conn, instance)
            conn.execute(update(tables.INSTANCE).where(tables.INSTANCE.c.id == instance.id)
                         .values(definition_id=target.id))
            instance.definition_id = target.id
            _refresh_open_rows(session, instance, target, moved)
            record(session, case_no, "case_migrated", actor, now,
                   data={"from": source.version, "to": target.version, "reason": reason})
            audit(session, actor, "case_migrated", now, case_no, reason=reason, to=target.version,
                  **{"from": source.version})
            return {"case_no": case_no, "from_version": source.version, "to_version": target.version}

    def _move(self, workflow: BpmnWorkflow, source: LoadedDefinition, target: LoadedDefinition) -> BpmnWorkflow:
        """Load the workflow's state onto the target specs, then re-predict where the flow changed."""
        serializer = self.workflows.serializer
        state = json.loads(serializer.dump(workflow))
        _prune(state, target.spec)
        for sub in state["subprocesses"].values():
            _prune(sub, target.subprocess_specs[sub["spec"]])
        moved = serializer.load(json.dumps(state), serializer.version, target.spec, target.subprocess_specs)
        moved.script_engine = self.workflows.script_engine
        for process in (moved, *moved.subprocesses.values()):
            name = process.spec.name
            before = source.spec if process is moved else source.subprocess_specs[name]
            changed = _changed_specs(before, process.spec)
            if changed:
                _repredict(process.task_tree, changed)
        return moved

    def _version(self, session: Session, key: str, version: int) -> LoadedDefinition:
        definition = session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version)).first()
        if definition is None:
            raise NotFound(f"流程 {key} 没有版本 {version}")
        return self.workflows.specs.get(definition)


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


def _processes(workflow: BpmnWorkflow) -> list[BpmnWorkflow]:
    return [workflow, *workflow.subprocesses.values()]


def _label(task: Task) -> str:
    return str(task.task_spec.bpmn_id or task.task_spec.name)


def compatibility(workflow: BpmnWorkflow, target: LoadedDefinition, registry: Any) -> dict[str, Any]:
    """Compare a workflow's tasks with a target version's specs (see `migration_check`).

    SpiffWorkflow's own `diff_workflow` aligns each task with the target's task spec; the product's
    rule is stricter than an alignment: an active step must exist in the target with the same element
    id and kind (the inbox rows and their claims name it), and no step already done may disappear."""
    top, subprocesses = diff_workflow(registry, workflow, target.spec, target.subprocess_specs)
    diffs = [(workflow, top), *((workflow.subprocesses[i], d) for i, d in subprocesses.items())]
    missing: list[str] = []
    missing_completed: list[str] = []
    for process, diff in diffs:
        for task in process.tasks.values():
            new = diff.alignment.get(task) if diff is not None else None
            if task.has_state(ACTIVE):
                if new is None or type(new) is not type(task.task_spec) or new.bpmn_id != task.task_spec.bpmn_id:
                    missing.append(_label(task))
            elif task.has_state(TaskState.FINISHED_MASK) and (new is None or new.name != task.task_spec.name):
                # The state is loaded onto the target by task spec name: a done step must keep its id.
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
        conn.execute(update(tables.TASK).where(tables.TASK.c.id == task_id).values(
            name=meta.name, form_key=meta.form_key, candidate_groups=groups))
        conn.execute(delete(tables.TASK_GROUP).where(tables.TASK_GROUP.c.task_id == task_id))
        store.insert_rows(conn, tables.TASK_GROUP, [{"task_id": task_id, "group_code": g} for g in groups])
    inbox_index.rebuild(conn, instance.id, instance.status)
