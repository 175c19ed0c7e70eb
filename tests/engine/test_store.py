"""What the store keeps: state without the spec, serializer versions, the task mirror, the timer index."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance
from tests.support.db import tx


def instance_row(url: str, case_no: str) -> ProcessInstance:
    """Load a case's process_instance row."""
    with tx(url) as session:
        return session.scalars(select(ProcessInstance).where(ProcessInstance.case_no == case_no)).one()


def test_state_does_not_copy_the_spec(start_case: Any, clean_db: str) -> None:
    """Instance rows hold the task tree and data only; the spec lives once, with the definition."""
    case = start_case()
    row = instance_row(clean_db, case.case_no)
    state = json.loads(row.state)
    assert "spec" not in state and "subprocess_specs" not in state
    assert state["tasks"] and row.definition.key == "relief_linkage"
    assert "一门受理" not in row.state  # task names come from the spec, not the state


def test_old_serializer_version_is_migrated_on_load(start_case: Any, clean_db: str) -> None:
    """A state written by an older serializer version is migrated when loaded and saved in the current one."""
    case = start_case()
    with tx(clean_db) as session:
        row = session.scalars(select(ProcessInstance).where(ProcessInstance.case_no == case.case_no)).one()
        current = row.serializer_version
        row.serializer_version = "1.4"
    case.check_store()
    case.complete("triage", {"decision": "ineligible", "reason": "测试迁移"})
    row = instance_row(clean_db, case.case_no)
    assert row.serializer_version == current != "1.4"
    assert row.status == "closed_declined"


def test_mirror_keeps_completed_tasks_with_actor_and_data(start_case: Any, clean_db: str) -> None:
    """Completed user tasks stay in human_task with who, when and the submitted data."""
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["renshe"]}, user="center7")
    with tx(clean_db) as session:
        rows = session.scalars(select(HumanTask).where(HumanTask.case_no == case.case_no)
                               .order_by(HumanTask.created_at)).all()
        accept_groups = [g.group_code for g in rows[1].groups]
    triage, accept = rows
    assert (triage.state, triage.completed_by, triage.data["departments"]) == ("COMPLETED", "center7", ["renshe"])
    assert triage.completed_at is not None and triage.due_at is not None
    assert (accept.state, accept.form_key, accept.context["department"]) == ("READY", "dept_accept", "renshe")
    assert accept_groups == ["renshe"]


def test_next_timer_is_indexed_while_a_department_handles(start_case: Any, clean_db: str) -> None:
    """next_timer_at holds the overrun deadline while a department works and is cleared when the case closes."""
    case = start_case()
    assert instance_row(clean_db, case.case_no).next_timer_at is None
    case.complete("triage", {"decision": "eligible", "departments": ["yingji"]})
    deadline = instance_row(clean_db, case.case_no).next_timer_at
    assert deadline is not None and deadline > instance_row(clean_db, case.case_no).started_at
    case.complete("dept_accept", {"materials": ["受灾证明"], "location": "应急管理局", "field_work": "none"})
    case.complete("dept_result", {"outcome": "approved", "content": "过渡期生活救助", "amount": 1500})
    assert instance_row(clean_db, case.case_no).next_timer_at is None
    case.complete("summary", {"summary": "办结"})
    row = instance_row(clean_db, case.case_no)
    assert row.status == "closed_completed" and row.ended_at is not None and row.next_timer_at is None


def test_an_ended_case_keeps_its_state_compressed(case_engine: Any, clean_db: str) -> None:
    """办结 (and 终止) store the state compressed and empty the running column; it restores the same."""
    from SpiffWorkflow.util.task import TaskState

    from engine.bpmn.serializer import StateSerializer
    from tests.support.cases import instance_of, start, walk_to

    running = start(case_engine)
    summary = walk_to(case_engine, running, "summary")
    before = instance_of(clean_db, running)
    assert before.state and before.state_archive is None
    case_engine.complete_task(summary, "center1", {"summary": "已纳入低保"})
    after = instance_of(clean_db, running)
    assert after.status == "closed_completed" and after.state == ""
    assert after.state_archive is not None and len(after.state_archive) < len(before.state) / 3
    assert json.loads(StateSerializer.unarchive(after.state_archive))["tasks"]
    workflow = case_engine.queries.restore_workflow(running)
    assert workflow.is_completed() and not workflow.get_tasks(state=TaskState.READY)
    stopped = start(case_engine)
    case_engine.admin.terminate_case(stopped, "admin1", "重复申请")
    assert instance_of(clean_db, stopped).state == "" and instance_of(clean_db, stopped).state_archive


def test_the_workflow_cache_keeps_the_most_recent_cases_only(clean_db: str, monkeypatch: Any) -> None:
    """The in-process reuse of workflows is bounded: past MAX_CACHED_WORKFLOWS the least recently stepped
    case is dropped (and its next step deserializes, as every step without the cache does)."""
    from engine.cases import workflows
    from tests.support.cases import start
    from tests.support.db import engine_for

    monkeypatch.setattr(workflows, "MAX_CACHED_WORKFLOWS", 2)
    engine = engine_for(clean_db, deploy=True, county=True)
    first, second, third = (start(engine) for _ in range(3))
    cached = engine.workflows._cache
    assert len(cached) == 2 and find_id(engine, first) not in cached
    assert {find_id(engine, second), find_id(engine, third)} == set(cached)


def find_id(engine: Any, case_no: str) -> int:
    with tx(engine.database_url) as session:
        return int(session.scalar(select(ProcessInstance.id).where(ProcessInstance.case_no == case_no)))


def test_json_columns_keep_chinese_as_utf8_without_spaces(start_case: Any, clean_db: str) -> None:
    """JSON columns are written compactly (engine.db.json_text): a reason in Chinese is stored as its
    characters, not as \\u escapes, and without the spaces of json.dumps' default separators."""
    case = start_case()
    case.complete("triage", {"decision": "ineligible", "reason": "收入超标"})
    with tx(clean_db) as session:
        raw = session.connection().exec_driver_sql(
            "SELECT CAST(data AS TEXT) FROM case_event WHERE case_no = %s AND type = 'task_completed'"
            if session.bind.dialect.name == "postgresql" else
            "SELECT CAST(data AS TEXT) FROM case_event WHERE case_no = ? AND type = 'task_completed'",
            (case.case_no,)).scalar_one()
    assert "收入超标" in raw and "\\u" not in raw
    assert '","' in raw and '", "' not in raw and json.loads(raw)["reason"] == "收入超标"
