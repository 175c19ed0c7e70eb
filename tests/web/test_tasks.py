"""Task pages: the case at a glance (masked), forms from JSON Schema, claim/release/assign/complete."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from engine import clock
from engine.access.accounts import create_user
from engine.models import Attachment
from tests.support.cases import APPLICANT
from tests.support.cases import start_at_village_window as start
from tests.support.db import suite_settings, tx

RAW_ID, RAW_PHONE = "34052419800101001X", "13800138000"
ACCEPT_FORM = {"materials": "身份证\n户口簿\n\n", "location": "县社会救助中心3号窗口", "field_work": "none"}


def task_of(engine: Any, case_no: str, form_key: str) -> dict[str, Any]:
    """The one open task of a case with `form_key`."""
    [task] = [t for t in engine.queries.list_tasks(case_no=case_no) if t["form_key"] == form_key]
    return dict(task)


def dispatched(engine: Any, department: str = "minzheng") -> tuple[str, dict[str, Any]]:
    """A case triaged to one department; return it and its 受理告知 task."""
    case_no = start(engine)
    engine.complete_task(task_of(engine, case_no, "triage")["id"], "center1",
                         {"decision": "eligible", "departments": [department]})
    return case_no, task_of(engine, case_no, "dept_accept")


def add_colleague(app: Flask, username: str = "mz2", org: str = "minzheng") -> None:
    """A second, non-supervising handler in a department."""
    with tx(app.config["DATABASE_URL"]) as session:
        create_user(session, suite_settings(), username, "Demo@2026", org, ["department"], clock.now(),
                    f"民政局 {username}", enforce_policy=False)  # a demo user: the demo password


def events(engine: Any, case_no: str, kind: str) -> list[dict[str, Any]]:
    """The case's history entries of one type."""
    return [e for e in engine.queries.show_case(case_no)["history"] if e["type"] == kind]


def test_task_page_shows_the_case_masked(engine: Any, login: Any) -> None:
    """The triage page shows case number, masked applicant, request, history, due time and the form."""
    case_no = start(engine)
    task = task_of(engine, case_no, "triage")
    response = login("center1").get(f"/tasks/{task['id']}")
    html = response.data.decode()
    assert response.status_code == 200
    assert case_no in html and APPLICANT["request"] in html
    assert "340524********001X" in html and "138****8000" in html and "张*" in html
    assert RAW_ID not in html and RAW_PHONE not in html and "张三" not in html
    assert 'id="task-form"' in html and "提交办理" in html and "剩余 2 个工作日" in html
    assert 'type="radio" name="decision" value="eligible"' in html
    assert 'type="checkbox" name="departments" value="minzheng"' in html and "民政局" in html
    assert "登记受理" in html and "生成待办" in html and "县社会救助中心" in html


def test_unknown_task_and_other_departments_task_are_404(engine: Any, login: Any) -> None:
    """Another department's task and a task that does not exist give the same 404."""
    _case, accept = dispatched(engine, "minzheng")
    client = login("yb1")
    other = client.get(f"/tasks/{accept['id']}")
    unknown_id = "00000000-0000-0000-0000-000000000000"
    unknown = client.get(f"/tasks/{unknown_id}")
    assert other.status_code == unknown.status_code == 404
    # Identical apart from the page's own address (the language switch returns to it).
    assert other.data.replace(accept["id"].encode(), b"") == unknown.data.replace(unknown_id.encode(), b"")
    assert login("mz1").get(f"/tasks/{accept['id']}").status_code == 200


def test_claim_and_release(engine: Any, login: Any) -> None:
    """A candidate claims a task (认领) and gives it back to the group (退回组内)."""
    case_no, accept = dispatched(engine, "yibao")
    client = login("yb1")
    assert 'id="claim"' in client.get(f"/tasks/{accept['id']}").data.decode()
    response = client.post(f"/tasks/{accept['id']}/claim", follow_redirects=True)
    assert "已认领该任务" in response.data.decode()
    assert task_of(engine, case_no, "dept_accept")["assignee"] == "yb1"
    assert 'id="release"' in response.data.decode() and "data-confirm=" in response.data.decode()
    client.post(f"/tasks/{accept['id']}/release")
    assert task_of(engine, case_no, "dept_accept")["assignee"] is None


def test_non_supervisor_cannot_assign(engine: Any, login: Any) -> None:
    """yb1 (no supervisor) sees no assign form and a forged assign request is refused with 403."""
    case_no, accept = dispatched(engine, "yibao")
    client = login("yb1")
    assert 'id="assign"' not in client.get(f"/tasks/{accept['id']}").data.decode()
    response = client.post(f"/tasks/{accept['id']}/assign", data={"assignee": "yb1"})
    assert response.status_code == 403 and "您无权办理此任务" in response.data.decode()
    assert task_of(engine, case_no, "dept_accept")["assignee"] is None


def test_supervisor_assigns_to_a_colleague_of_the_group(app: Flask, engine: Any, login: Any) -> None:
    """mz1 (supervisor) assigns to a 民政 colleague; someone outside the candidate groups is refused."""
    add_colleague(app)
    case_no, accept = dispatched(engine, "minzheng")
    client = login("mz1")
    page = client.get(f"/tasks/{accept['id']}").data.decode()
    assert '<option value="mz2"' in page and '<option value="yb1"' not in page
    refused = client.post(f"/tasks/{accept['id']}/assign", data={"assignee": "yb1"}, follow_redirects=True)
    assert "请选择可以办理该任务的同事" in refused.data.decode()
    assert task_of(engine, case_no, "dept_accept")["assignee"] is None
    client.post(f"/tasks/{accept['id']}/assign", data={"assignee": "mz2"})
    assert task_of(engine, case_no, "dept_accept")["assignee"] == "mz2"
    assert case_no in login("mz2").get("/?scope=mine").data.decode()


def test_someone_elses_claimed_task_cannot_be_completed(app: Flask, engine: Any, login: Any) -> None:
    """A task claimed by mz2 is read-only for mz1, and mz1's submission is refused (403), input kept."""
    add_colleague(app)
    case_no, accept = dispatched(engine, "minzheng")
    login("mz2").post(f"/tasks/{accept['id']}/claim")
    client = login("mz1")
    page = client.get(f"/tasks/{accept['id']}").data.decode()
    assert 'id="task-form"' not in page and "（mz2） 认领" in page
    response = client.post(f"/tasks/{accept['id']}/complete", data=ACCEPT_FORM)
    html = response.data.decode()
    assert response.status_code == 403 and "您无权办理此任务" in html and "县社会救助中心3号窗口" in html
    assert task_of(engine, case_no, "dept_accept")["assignee"] == "mz2"
    assert not [e for e in events(engine, case_no, "task_completed") if e["task_id"] == accept["id"]]


def test_every_post_form_carries_a_csrf_token(engine: Any, login: Any) -> None:
    """Assign, unmask and complete forms (claim is part of the task's form) and the page's others all
    include the CSRF token."""
    case_no = start(engine)
    html = login("center1").get(f"/tasks/{task_of(engine, case_no, 'triage')['id']}").data.decode()
    posts = html.count('method="post"')
    assert posts >= 5 and html.count('name="csrf_token"') == posts


def test_bad_data_is_422_with_field_errors_and_input_kept(engine: Any, login: Any) -> None:
    """Eligible without departments fails the schema's if/then: 422, Chinese error, typed values kept."""
    case_no = start(engine)
    task = task_of(engine, case_no, "triage")
    response = login("center1").post(f"/tasks/{task['id']}/complete",
                                     data={"decision": "eligible", "note": "已电话核实家庭情况"})
    html = response.data.decode()
    assert response.status_code == 422
    assert '<span class="field-error" role="alert" id="err-departments">此项为必填项</span>' in html
    assert "已电话核实家庭情况" in html and 'value="eligible" checked' in html
    assert task_of(engine, case_no, "triage")["id"] == task["id"]


def test_number_that_is_not_a_number_is_reported(engine: Any, login: Any) -> None:
    """A non-numeric amount is refused next to its field with everything else kept."""
    case_no, accept = dispatched(engine, "minzheng")
    engine.complete_task(accept["id"], "mz1", {"materials": ["身份证"], "location": "民政局", "field_work": "none"})
    result = task_of(engine, case_no, "dept_result")
    response = login("mz1").post(f"/tasks/{result['id']}/complete",
                                 data={"outcome": "approved", "content": "纳入低保", "amount": "七百八"})
    html = response.data.decode()
    assert response.status_code == 422 and "请输入数字" in html and "纳入低保" in html and 'value="七百八"' in html


def test_completing_a_task_just_completed_shows_the_conflict(engine: Any, login: Any) -> None:
    """A second submission gets "已由 center1 于 … 办理完成", keeps the input and records no second completion."""
    case_no = start(engine)
    task = task_of(engine, case_no, "triage")
    client = login("center1")
    assert client.get(f"/tasks/{task['id']}").status_code == 200
    engine.complete_task(task["id"], "center1", {"decision": "ineligible", "reason": "收入超标"})
    response = client.post(f"/tasks/{task['id']}/complete",
                           data={"decision": "eligible", "departments": ["minzheng"], "note": "我的研判意见"})
    html = response.data.decode()
    assert response.status_code == 409
    assert "（center1） 于" in html and "办理完成" in html and "我的研判意见" in html
    assert len([e for e in events(engine, case_no, "task_completed") if e["task_id"] == task["id"]]) == 1


def test_closed_task_is_read_only_with_who_and_when(engine: Any, login: Any) -> None:
    """A completed task shows its submitted data with labels, who and when, and no form."""
    case_no = start(engine)
    task = task_of(engine, case_no, "triage")
    engine.complete_task(task["id"], "center1", {"decision": "ineligible", "reason": "收入超标"})
    html = login("center1").get(f"/tasks/{task['id']}").data.decode()
    assert 'id="task-form"' not in html and "（center1） 于" in html
    assert "不符合救助条件" in html and "收入超标" in html and "已办结" in html


def test_whole_flow_for_one_department_through_the_pages(engine: Any, login: Any) -> None:
    """Triage → 受理告知 → 处理上报 (village) → 办结反馈 → 办结汇总, all through the task pages."""
    case_no = start(engine)
    center = login("center1")
    triage = task_of(engine, case_no, "triage")
    done = center.post(f"/tasks/{triage['id']}/complete",
                       data={"decision": "eligible", "departments": ["minzheng"], "matters": ["dibao"]},
                       follow_redirects=True)
    assert "已办结：一门受理·初步研判" in done.data.decode()

    mz = login("mz1")
    accept = task_of(engine, case_no, "dept_accept")
    assert "受理告知" in mz.get("/").data.decode()
    mz.post(f"/tasks/{accept['id']}/claim")
    response = mz.post(f"/tasks/{accept['id']}/complete", data={**ACCEPT_FORM, "field_work": "village"})
    assert response.status_code == 302 and response.headers["Location"] == "/"

    field = task_of(engine, case_no, "field_report")
    assert field["candidate_groups"] == ["T01V01"]
    login("village1").post(f"/tasks/{field['id']}/complete",
                           data={"result": "已入户核查，情况属实", "visited_at": "2026-03-02", "note": ""})

    result = task_of(engine, case_no, "dept_result")
    page = mz.get(f"/tasks/{result['id']}").data.decode()
    assert "联动方案与办理结果" in page and "已入户核查，情况属实" in page and "2026-03-02" in page
    mz.post(f"/tasks/{result['id']}/complete", data={"outcome": "approved", "content": "纳入低保", "amount": "780"})

    summary = task_of(engine, case_no, "summary")
    assert "批准救助" in center.get(f"/tasks/{summary['id']}").data.decode()
    center.post(f"/tasks/{summary['id']}/complete", data={"summary": "民政局已纳入低保"})
    assert engine.queries.show_case(case_no)["status"] == "closed_completed"
    completed = {e["task"]: e["data"] for e in events(engine, case_no, "task_completed")}
    assert completed["受理告知"]["materials"] == ["身份证", "户口簿"]
    assert completed["办结反馈"]["amount"] == 780
    assert completed["处理上报"] == {"result": "已入户核查，情况属实", "visited_at": "2026-03-02"}
    assert completed["一门受理·初步研判"]["matters"] == ["dibao"]


def test_empty_number_is_left_out_so_the_default_applies(engine: Any, login: Any) -> None:
    """An empty amount is not sent, so the schema's default (null) is stored."""
    case_no, accept = dispatched(engine, "minzheng")
    engine.complete_task(accept["id"], "mz1", {"materials": ["身份证"], "location": "民政局", "field_work": "none"})
    result = task_of(engine, case_no, "dept_result")
    response = login("mz1").post(f"/tasks/{result['id']}/complete",
                                 data={"outcome": "denied", "content": "不符合条件", "amount": ""})
    assert response.status_code == 302
    [completed] = [e for e in events(engine, case_no, "task_completed") if e["task_id"] == result["id"]]
    assert completed["data"]["amount"] is None


def test_attachments_listed_and_downloaded_in_scope(app: Flask, engine: Any, login: Any) -> None:
    """Uploaded materials are listed on the task page; in-scope users download them, others get 404."""
    case_no, accept = dispatched(engine, "minzheng")
    content = b"%PDF-1.4 demo"
    digest = hashlib.sha256(content).hexdigest()
    upload = Path(app.config["UPLOAD_DIR"])
    upload.mkdir(parents=True, exist_ok=True)
    (upload / digest).write_bytes(content)
    with tx(app.config["DATABASE_URL"]) as session:
        session.add(Attachment(case_no=case_no, filename="身份证.pdf", content_type="application/pdf",
                               size=len(content), sha256=digest, uploaded_by="clerk_v", uploaded_at=clock.now()))
    with tx(app.config["DATABASE_URL"]) as session:
        attachment_id = session.scalar(select(Attachment.id).where(Attachment.case_no == case_no))
    page = login("mz1").get(f"/tasks/{accept['id']}").data.decode()
    assert "身份证.pdf" in page and f"/cases/{case_no}/attachments/{attachment_id}" in page
    download = login("mz1").get(f"/cases/{case_no}/attachments/{attachment_id}")
    assert download.status_code == 200 and download.data == content
    assert "attachment" in download.headers["Content-Disposition"]
    assert login("yb1").get(f"/cases/{case_no}/attachments/{attachment_id}").status_code == 404


def test_unmask_on_the_task_page(engine: Any, login: Any) -> None:
    """center1 sees the 查看完整信息 button; posting a reason shows the full ID once."""
    case_no = start(engine)
    task = task_of(engine, case_no, "triage")
    client = login("center1")
    assert "查看完整信息" in client.get(f"/tasks/{task['id']}").data.decode()
    response = client.post(f"/tasks/{task['id']}/unmask", data={"reason": "电话回访核实身份"})
    assert response.status_code == 200 and RAW_ID in response.data.decode()
    assert response.headers["Cache-Control"] == "no-store"
    assert RAW_ID not in client.get(f"/tasks/{task['id']}").data.decode()


def test_claiming_while_filling_in_keeps_what_was_typed(engine: Any, login: Any) -> None:
    """认领 pressed after typing in the form posts the form along and redraws it with every value kept."""
    case_no = start(engine)
    task = task_of(engine, case_no, "triage")
    client = login("center1")
    page = client.get(f"/tasks/{task['id']}").data.decode()
    assert 'id="claim" form="task-form"' in page and "formaction=" in page
    response = client.post(f"/tasks/{task['id']}/claim",
                           data={"decision": "ineligible", "reason": "家庭收入超过低保标准", "note": "已电话核实"})
    html = response.data.decode()
    assert response.status_code == 200 and "已认领该任务" in html
    assert "家庭收入超过低保标准" in html and "已电话核实" in html
    assert 'value="ineligible" checked' in html
    assert task_of(engine, case_no, "triage")["assignee"] == "center1"


def test_joint_plan_starts_with_the_centers_departments(engine: Any, login: Any) -> None:
    """联动救助方案 opens with the departments the center chose at triage already ticked (x-prefill)."""
    case_no = start(engine)
    triage = task_of(engine, case_no, "triage")
    engine.complete_task(triage["id"], "center1", {"decision": "eligible", "departments": ["minzheng", "yibao"]})
    plan = task_of(engine, case_no, "joint_plan")
    html = login("joint1").get(f"/tasks/{plan['id']}").data.decode()
    assert 'value="minzheng" checked' in html and 'value="yibao" checked' in html
    assert 'value="jiaoyu" checked' not in html


def test_losing_the_claim_to_a_colleague_keeps_what_was_typed(app: Flask, engine: Any, login: Any) -> None:
    """When a colleague claimed the task first, 认领 is refused (403) and the typed values stay on the page."""
    add_colleague(app)
    case_no, accept = dispatched(engine, "minzheng")
    mz1 = login("mz1")
    assert 'id="claim" form="task-form"' in mz1.get(f"/tasks/{accept['id']}").data.decode()
    login("mz2").post(f"/tasks/{accept['id']}/claim")
    response = mz1.post(f"/tasks/{accept['id']}/claim", data={"location": "民政局二楼窗口", "materials": "身份证"})
    html = response.data.decode()
    assert response.status_code == 403 and "民政局二楼窗口" in html and "您本次填写的内容" in html
    assert task_of(engine, case_no, "dept_accept")["assignee"] == "mz2"
