"""Instance inspection pages: admin only, filtered and paginated list, the instance page, confirmed actions, heat."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from engine import clock
from engine.clock import LOCAL_TZ
from tests.support.bpmn import moved_shape, with_broken_condition
from tests.support.cases import APPLICANT, complete_case, dispatch, open_task, start
from tests.support.db import BPMN_PATH

RAW_ID_NUMBER, RAW_PHONE = APPLICANT["id_number"], APPLICANT["phone"]


def html_of(response: Any) -> str:
    """The response body as text."""
    return str(response.data.decode())


@pytest.mark.parametrize("username", ["center1", "designer1", "mz1", "analyst1"])
def test_only_administrators_inspect_instances(login: Any, engine: Any, username: str) -> None:
    """The list, an instance and every action answer 403 to non-administrators."""
    case_no = start(engine)
    client = login(username)
    assert client.get("/admin/instances").status_code == 403
    assert client.get(f"/admin/instances/{case_no}").status_code == 403
    assert client.post(f"/admin/instances/{case_no}/suspend", data={"reason": "x"}).status_code == 403


def test_list_filters_and_masks(login: Any, engine: Any) -> None:
    """Status, task, case number and overdue filters work; the applicant is masked; closed cases show 办结."""
    running, closed = start(engine), start(engine)
    complete_case(engine, closed)
    client = login("admin1")
    page = html_of(client.get("/admin/instances"))
    assert running in page and closed in page
    assert RAW_ID_NUMBER not in page and RAW_PHONE not in page
    assert html_of(client.get("/admin/instances?status=completed")).count("data-case-no=") == 1
    assert closed in html_of(client.get("/admin/instances?status=completed"))
    running_only = html_of(client.get("/admin/instances?status=running&task=研判"))
    assert running in running_only and closed not in running_only
    assert html_of(client.get(f"/admin/instances?case_no={closed}")).count("data-case-no=") == 1
    assert html_of(client.get(f"/admin/instances?case_no={closed[:-1]}")).count("data-case-no=") == 2
    other = start(engine, name="李四", id_number="320281199003070026")
    assert html_of(client.get("/admin/instances?applicant=李")).count("data-case-no=") == 1
    by_name = html_of(client.get("/admin/instances?applicant=李四"))
    assert other in by_name and by_name.count("data-case-no=") == 1 and "李*" in by_name
    assert running not in html_of(client.get("/admin/instances?overdue=yes"))
    with clock.frozen_at(clock.now() + timedelta(days=30)):
        assert running in html_of(client.get("/admin/instances?overdue=yes"))
    assert html_of(client.get("/admin/instances?version=1")).count("data-case-no=") == 3
    assert "没有符合条件" in html_of(client.get("/admin/instances?version=7"))
    tomorrow = (clock.now().astimezone(LOCAL_TZ).date() + timedelta(days=1)).isoformat()
    assert "没有符合条件" in html_of(client.get(f"/admin/instances?started_from={tomorrow}"))
    assert html_of(client.get(f"/admin/instances?started_to={tomorrow}")).count("data-case-no=") == 3
    ended = html_of(client.get(f"/admin/instances?ended_to={tomorrow}"))
    assert ended.count("data-case-no=") == 1 and closed in ended


def test_list_is_paginated(login: Any, engine: Any) -> None:
    """20 per page with a pager."""
    for _ in range(23):
        start(engine)
    client = login("admin1")
    first, second = html_of(client.get("/admin/instances")), html_of(client.get("/admin/instances?page=2"))
    assert first.count("data-case-no=") == 20 and second.count("data-case-no=") == 3
    assert "第 1 / 2 页" in first


def test_instance_page_shows_overlays_history_tasks_and_masked_data(login: Any, engine: Any) -> None:
    """The page embeds its own version's XML with done/active overlays, the history and masked data."""
    case_no = start(engine)
    dispatch(engine, case_no, "minzheng")
    page = html_of(login("admin1").get(f"/admin/instances/{case_no}"))
    data = json.loads(re.search(r'<script type="application/json" id="viewer-data">(.*?)</script>', page, re.S)
                      .group(1))
    kinds = {o["id"]: o["kind"] for o in data["overlays"]}
    assert kinds["triage"] == "done" and kinds["dept_accept"] == "active"
    assert 'id="relief_linkage"' in data["xml"]
    assert "登记受理" in page and "dept_accept" in page
    assert RAW_ID_NUMBER not in page and RAW_PHONE not in page


def test_suspend_and_resume_need_a_reason_and_are_logged(login: Any, engine: Any) -> None:
    """An empty reason is refused (422, nothing changes); with a reason the case is suspended, then resumed."""
    case_no = start(engine)
    client = login("admin1")
    refused = client.post(f"/admin/instances/{case_no}/suspend", data={"reason": " ", "action": "suspend"})
    assert refused.status_code == 422 and "请填写操作原因" in html_of(refused)
    assert engine.queries.show_case(case_no)["status"] == "open"
    client.post(f"/admin/instances/{case_no}/suspend", data={"reason": "核实身份"})
    assert engine.queries.show_case(case_no)["status"] == "suspended"
    again = client.post(f"/admin/instances/{case_no}/suspend", data={"reason": "再次", "action": "suspend"})
    assert again.status_code == 409 and "无需重复挂起" in html_of(again)
    client.post(f"/admin/instances/{case_no}/resume", data={"reason": "已核实"})
    history = engine.queries.show_case(case_no)["history"]
    changes = ("case_suspended", "case_resumed")
    assert [(e["type"], e["actor"], e["data"]["reason"]) for e in history if e["type"] in changes] == [
        ("case_suspended", "admin1", "核实身份"), ("case_resumed", "admin1", "已核实")]


def test_reassign_and_terminate(login: Any, engine: Any) -> None:
    """Reassign an open task to a candidate (reason logged); terminate cancels the case."""
    case_no = start(engine)
    dispatch(engine, case_no, "minzheng")
    task_id = open_task(engine, case_no, "dept_accept")
    client = login("admin1")
    client.post(f"/admin/instances/{case_no}/tasks/{task_id}/reassign", data={"assignee": "mz1", "reason": "人员调整"})
    [assigned] = [e for e in engine.queries.show_case(case_no)["history"] if e["type"] == "task_assigned"]
    assert (assigned["actor"], assigned["data"]["assignee"], assigned["data"]["reason"]) == (
        "admin1", "mz1", "人员调整")
    wrong = client.post(f"/admin/instances/{case_no}/tasks/{task_id}/reassign",
                        data={"assignee": "yb1", "reason": "试试", "action": "reassign"})
    assert wrong.status_code == 422 and "不是该任务候选组" in html_of(wrong)
    client.post(f"/admin/instances/{case_no}/terminate", data={"reason": "申请人撤回"})
    assert engine.queries.show_case(case_no)["status"] == "terminated"


def test_migrate_through_the_page(login: Any, engine: Any) -> None:
    """The page lists other versions with the check's verdict; migrating moves the case and logs it."""
    case_no = start(engine)
    engine.deploy(moved_shape(BPMN_PATH.read_bytes()), "relief_linkage.bpmn", "designer1", "v2")
    client = login("admin1")
    assert "v2：可以迁移" in html_of(client.get(f"/admin/instances/{case_no}"))
    client.post(f"/admin/instances/{case_no}/migrate", data={"to_version": "2", "reason": "采用新版本"})
    assert engine.queries.show_case(case_no)["definition_version"] == 2
    back = client.post(f"/admin/instances/{case_no}/migrate",
                       data={"to_version": "2", "reason": "再迁", "action": "migrate"})
    assert back.status_code == 409 and "无需迁移" in html_of(back)


def test_errored_step_is_shown_and_retried_with_corrected_data(login: Any, engine: Any) -> None:
    """An errored gateway is marked on the diagram and listed; bad JSON is refused with input kept; retry runs on."""
    engine.deploy(with_broken_condition(BPMN_PATH.read_bytes()), "relief_linkage.bpmn", "designer1", "坏条件",
                  despite_samples=True, reason="测试出错重试")
    case_no = start(engine)
    dispatch(engine, case_no, "minzheng")
    client = login("admin1")
    page = html_of(client.get(f"/admin/instances/{case_no}"))
    assert 'data-status="error"' in page and 'data-element-id="gw_triage"' in page
    overlays = json.loads(re.search(r'id="viewer-data">(.*?)</script>', page, re.S).group(1))["overlays"]
    assert {"id": "gw_triage", "kind": "error"}.items() <= next(o for o in overlays if o["id"] == "gw_triage").items()
    [errored] = engine.admin.errored_tasks(case_no)
    bad = client.post(f"/admin/instances/{case_no}/retry",
                      data={"task_id": errored["id"], "data": "{priority: 1", "reason": "补数据", "action": "retry"})
    assert bad.status_code == 422 and "JSON" in html_of(bad) and "{priority: 1" in html_of(bad)
    client.post(f"/admin/instances/{case_no}/retry",
                data={"task_id": errored["id"], "data": '{"priority": 1}', "reason": "补数据"})
    assert engine.queries.show_case(case_no)["status"] == "open"
    assert [t["form_key"] for t in engine.queries.list_tasks(case_no=case_no)] == ["dept_accept"]


def test_heat_view_shows_average_and_p90_per_user_task(login: Any, engine: Any) -> None:
    """Completed tasks in the period give average/P90 hours per user task; open tasks count as active."""
    now = clock.now()
    for hours in (1, 2, 10):
        with clock.frozen_at(now - timedelta(hours=hours)):
            case_no = start(engine)
        with clock.frozen_at(now):
            dispatch(engine, case_no, "minzheng")
    client = login("analyst1")
    page = html_of(client.get("/admin/heat"))
    data = json.loads(re.search(r'id="viewer-data">(.*?)</script>', page, re.S).group(1))
    triage = next(o for o in data["overlays"] if o["id"] == "triage")
    assert triage["level"] == 1.0 and "在办 0" in triage["label"]
    accept = next(o for o in data["overlays"] if o["id"] == "dept_accept")
    assert "在办 3" in accept["label"]
    row = re.search(r'<tr data-element-id="triage">(.*?)</tr>', page, re.S).group(1)
    assert "<td>3</td>" in row and "4.33" in row and "8.4" in row
    assert login("clerk_v").get("/admin/heat").status_code == 403


def test_department_steps_are_counted_per_department(login: Any, engine: Any) -> None:
    """Two departments, one accepted: 受理告知 shows one active and one done (not the subprocess copies)."""
    case_no = start(engine)
    engine.complete_task(open_task(engine, case_no, "triage"), "center1",
                         {"decision": "eligible", "departments": ["minzheng", "yibao"]})
    engine.complete_task(open_task(engine, case_no, "joint_plan"), "joint1",
                         {"departments": ["minzheng", "yibao"], "plan": "联动"})
    [minzheng] = [t for t in engine.queries.list_tasks(case_no=case_no) if "minzheng" in t["candidate_groups"]]
    engine.complete_task(minzheng["id"], "mz1", {"materials": ["身份证"], "location": "民政局", "field_work": "none"})
    page = html_of(login("admin1").get(f"/admin/instances/{case_no}"))
    overlays = json.loads(re.search(r'id="viewer-data">(.*?)</script>', page, re.S).group(1))["overlays"]
    labels = {o["id"]: (o["kind"], o["label"]) for o in overlays}
    kind, label = labels["dept_accept"]
    assert kind == "active" and label.startswith("待认领 · 时限 ") and label.endswith(" · 已完成 1")
    assert labels["triage"] == ("done", "✓")
    assert labels["dept_handling"] == ("active", "办理中 2")


def test_instance_page_shows_labels_and_names_not_codes(login: Any, engine: Any) -> None:
    """Task states read 已办结 / 待办 (not COMPLETED / READY), departments and people by name."""
    case_no = start(engine)
    dispatch(engine, case_no, "zhujian")
    page = html_of(login("admin1").get(f"/admin/instances/{case_no}"))
    human = page.split('id="human-tasks"')[1].split("</section>")[0]
    assert "已办结" in human and "待办" in human
    assert ">COMPLETED<" not in human and ">READY<" not in human
    current = page.split('id="open-tasks"')[1].split("</section>")[0]
    assert "受理告知 · 住建局" in current and "· zhujian" not in current
    assert "（center1）" in human
