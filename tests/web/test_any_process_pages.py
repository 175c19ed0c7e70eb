"""A process of its own key in the inbox and on the task page (issue 10): the generic completion form
offers the gateway's choices, refuses a submission without one and completes with one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bpmn"


def test_generic_form_task_in_the_inbox_and_on_the_task_page(login: Any, engine: Any) -> None:
    engine.deploy((CORPUS / "camunda_leave.bpmn").read_bytes(), "camunda_leave.bpmn", "designer1", "部署")
    case_no, _ = engine.start_process("material_check", {}, "designer1")
    client = login("mz1")
    inbox = client.get("/").data.decode()
    assert "核对材料" in inbox and case_no in inbox
    [task] = engine.queries.list_tasks(case_no=case_no)
    page = client.get(f"/tasks/{task['id']}")
    html = page.data.decode()
    assert page.status_code == 200, html[:500]
    assert "办理结果" in html and "齐全" in html and "需补充" in html and "办理意见" in html
    refused = client.post(f"/tasks/{task['id']}/complete", data={"comment": "未选"})
    assert refused.status_code == 422 and "请选择办理结果" in refused.data.decode()
    done = client.post(f"/tasks/{task['id']}/complete", data={"choice": "需补充", "comment": "缺户口簿"})
    assert done.status_code in (302, 303), done.data.decode()[:500]
    [follow_up] = engine.queries.list_tasks(case_no=case_no)
    assert (follow_up["name"], follow_up["assignee"]) == ("通知补充材料", "designer1")
    assert "通知补充材料" in login("designer1").get("/").data.decode()
