"""Steps that fail at run time: the case stops in `error`, nothing done is lost, and an administrator retries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidData, TaskConflict
from tests.support.bpmn import deploy, with_broken_condition
from tests.support.cases import accept, instance_of
from tests.support.cli import relief
from tests.support.db import BPMN_PATH


@pytest.fixture
def broken(case_engine: Any) -> int:
    """Deploy the broken version; new cases start on it."""
    return deploy(case_engine, with_broken_condition(BPMN_PATH.read_bytes()))


def test_failing_condition_stops_the_case_in_error_and_keeps_the_completed_task(
        broken: int, start_case: Any, case_engine: Any, clean_db: str) -> None:
    """R-5.2: the triage decision is kept; the gateway is in ERROR; the case is in error with a task_error event."""
    case = start_case()
    assert case.show()["definition_version"] == broken
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    shown = case.show()
    assert shown["status"] == "error"
    assert shown["open_tasks"] == []
    [error] = case.events("task_error")
    assert error["data"]["element"] == "gw_triage"
    assert "流程数据中没有变量 priority" in error["data"]["message"]
    assert "Error evaluating" not in error["data"]["message"]  # the history speaks Chinese
    assert [e["task"] for e in case.events("task_completed")] == ["一门受理·初步研判"]
    [errored] = case_engine.admin.errored_tasks(case.case_no)
    assert errored["element"] == "gw_triage"
    assert errored["data"]["decision"] == "eligible"
    assert instance_of(clean_db, case.case_no).status == "error"


def test_retry_after_fixing_the_data_runs_on(broken: int, start_case: Any, case_engine: Any) -> None:
    """Retry merges the corrected data, reruns the errored step and reopens the case."""
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    [errored] = case_engine.admin.errored_tasks(case.case_no)
    result = case_engine.admin.retry_task(case.case_no, errored["id"], {"priority": 1}, "admin1", "补充优先级数据")
    assert result == {"case_no": case.case_no, "status": "open"}
    assert [t["form_key"] for t in case.open_tasks()] == ["dept_accept"]
    [retried] = case.events("task_retried")
    assert (retried["actor"], retried["data"]["reason"], retried["data"]["changed"]) == (
        "admin1", "补充优先级数据", ["priority"])
    case.check_store()


def test_retry_that_fails_again_stays_in_error(broken: int, start_case: Any, case_engine: Any) -> None:
    """Without the missing value the retry fails the same way: a second task_error, still error."""
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    [errored] = case_engine.admin.errored_tasks(case.case_no)
    case_engine.admin.retry_task(case.case_no, errored["id"], {}, "admin1", "重试")
    assert case.show()["status"] == "error"
    assert len(case.events("task_error")) == 2


def test_errored_case_refuses_task_work_and_wrong_retries(broken: int, start_case: Any, case_engine: Any) -> None:
    """Tasks of an errored case cannot be worked; retry needs a reason, a JSON object and an errored step."""
    case = start_case()
    to_two = {"decision": "eligible", "departments": ["minzheng", "yibao"]}
    case.complete("triage", to_two)
    [errored] = case_engine.admin.errored_tasks(case.case_no)
    with pytest.raises(InvalidData):
        case_engine.admin.retry_task(case.case_no, errored["id"], {}, "admin1", " ")
    with pytest.raises(InvalidData):
        case_engine.admin.retry_task(case.case_no, errored["id"], {"not valid": 1}, "admin1", "修正")
    with pytest.raises(TaskConflict, match="不是出错状态"):
        case_engine.admin.retry_task(case.case_no, "00000000-0000-0000-0000-000000000000", {}, "admin1", "修正")
    case_engine.admin.retry_task(case.case_no, errored["id"], {"priority": 2}, "admin1", "修正")
    [plan] = case.open_tasks()
    assert plan["form_key"] == "joint_plan"
    with pytest.raises(TaskConflict, match="不能重试"):
        case_engine.admin.retry_task(case.case_no, errored["id"], {}, "admin1", "再试")


def test_errored_case_can_move_to_a_corrected_version_and_retry(
        broken: int, start_case: Any, case_engine: Any) -> None:
    """Deploy the corrected flow as a new version, migrate the errored case to it, retry: the new condition runs."""
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    fixed = deploy(case_engine, BPMN_PATH.read_bytes().replace(b"</bpmn:definitions>", b"</bpmn:definitions>\n"))
    assert case_engine.admin.migration_check(case.case_no, fixed)["safe"]
    case_engine.admin.migrate_case(case.case_no, fixed, "admin1", "修正条件表达式")
    [errored] = case_engine.admin.errored_tasks(case.case_no)
    case_engine.admin.retry_task(case.case_no, errored["id"], {}, "admin1", "新版本条件已修正")
    assert case.show()["status"] == "open"
    assert [t["form_key"] for t in case.open_tasks()] == ["dept_accept"]


def test_terminating_an_errored_case(broken: int, start_case: Any, case_engine: Any) -> None:
    """An errored case may be terminated."""
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng"]})
    case_engine.admin.terminate_case(case.case_no, "admin1", "重复申请")
    assert case.show()["status"] == "terminated"


def test_a_step_failing_inside_a_department_subprocess_is_recorded_once_and_retried(
        case_engine: Any, start_case: Any) -> None:
    """Inside the multi-instance: one task_error for the failing gateway of that department; retry runs on there."""
    text = BPMN_PATH.read_bytes().decode()
    for condition in ('field_work != "none"<', 'field_work == "none"<'):
        assert condition in text
        text = text.replace(condition, f"priority &gt; 0 and {condition}")
    deploy(case_engine, text.encode())
    case = start_case()
    case.complete("triage", {"decision": "eligible", "departments": ["minzheng", "yibao"]})
    case.complete("joint_plan", {"departments": ["minzheng", "yibao"], "plan": "联动"})
    [first, _second] = case.open_tasks("dept_accept")
    case.complete_id(first["id"], accept())
    assert case.show()["status"] == "error"
    [error] = case.events("task_error")
    assert error["data"]["element"] == "gw_field"
    [errored] = case_engine.admin.errored_tasks(case.case_no)
    case_engine.admin.retry_task(case.case_no, errored["id"], {"priority": 1}, "admin1", "补充数据")
    assert case.show()["status"] == "open"
    assert sorted(t["form_key"] for t in case.open_tasks()) == ["dept_accept", "dept_result"]


def test_retry_from_the_command_line(county_db: str, applicant_file: Path, tmp_path: Path) -> None:
    """`relief case retry CASE_NO --data JSON --reason` finds the one errored step; refusals exit 1 with the reason."""
    broken = tmp_path / "broken.bpmn"
    broken.write_bytes(with_broken_condition(BPMN_PATH.read_bytes()))
    relief("deploy", str(broken), "--despite-samples", "--reason", "测试出错重试", database_url=county_db)
    case_no = relief("case", "start", "--channel", "window", "--level", "village", "--applicant",
                     str(applicant_file), database_url=county_db)["case_no"]
    none = relief("case", "retry", case_no, "--reason", "试", database_url=county_db, expect=1)
    assert none["error"] == "conflict" and "没有出错环节" in none["message"]
    [triage] = relief("task", "list", "--case", case_no, database_url=county_db)
    relief("task", "complete", triage["id"], "--user", "center1", "--data",
           '{"decision": "eligible", "departments": ["minzheng"]}', database_url=county_db)
    assert relief("case", "show", case_no, database_url=county_db)["status"] == "error"
    bad = relief("case", "retry", case_no, "--data", "{oops", "--reason", "补数据", database_url=county_db, expect=1)
    assert bad["error"] == "invalid" and "data" in bad["errors"]
    assert relief("case", "retry", case_no, "--data", '{"priority": 1}', "--reason", "补数据", "--by", "admin1",
                  database_url=county_db) == {"case_no": case_no, "status": "open"}


def _failed(cause: Exception, expression: str = "x / y") -> Exception:
    """A SpiffWorkflow failure wrapping `cause`, as the script engine raises it."""
    from SpiffWorkflow.exceptions import WorkflowException

    try:
        try:
            raise cause
        except Exception:  # noqa: BLE001 - the wrapped failure is the point
            raise WorkflowException(f"Error evaluating expression '{expression}'") from None
    except WorkflowException as err:
        return err


@pytest.mark.parametrize(("cause", "words"), [
    (NameError("name 'priority' is not defined", name="priority"), "流程数据中没有变量 priority"),
    (ZeroDivisionError("division by zero"), "除数为零"),
    (KeyError("amount"), "缺少数据项 'amount'"),
    (TypeError("unsupported operand type(s) for +: 'int' and 'str'"), "数据类型不匹配"),
    (ValueError("invalid literal for int()"), "取值不符合要求"),
    (IndexError("list index out of range"), "下标越界"),
])
def test_failures_are_explained_in_chinese(cause: Exception, words: str) -> None:
    """What goes into the case history names the expression and says in Chinese what went wrong."""
    from engine.bpmn.sandbox import explain

    text = explain(_failed(cause))
    assert text.startswith("表达式 x / y 无法计算：") and words in text
    assert "Error evaluating" not in text and "unsupported operand" not in text and "invalid literal" not in text
