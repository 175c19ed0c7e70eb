"""补正 (R-6.2.2): a 需补正 verdict in triage tells the applicant everything at once, the case waits
(待补正) for the supplement from the portal or any window, the reviewer gets the task back with the
new files marked; a wait that runs out reminds the applicant and asks the center what to do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.access.accounts import Accounts
from engine.cases.inbox import TaskQuery
from engine.cases.materials import Upload
from engine.deadlines.jobs import tick
from engine.errors import Forbidden, InvalidData, NotFound, TaskConflict
from engine.models import AuditLog, HumanTask, Notification
from tests.support.cases import applicant, instance_of, open_task
from tests.support.db import tx

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
CODE = "ABCD2345"
REVIEW = [{"matter": "linshi", "material": "申请书", "verdict": "ok"},
          {"matter": "linshi", "material": "致困原因证明（医疗票据、事故证明等）", "verdict": "supplement",
           "problem": "缺少住院费用票据"}]


def online_case(case_engine: Any) -> str:
    """An online application for 临时救助 with the query code CODE."""
    case_no, _ = case_engine.start_case(applicant(matters=["linshi"]), "online", "county", query_code=CODE,
                                        actor="applicant", consent=True)
    return str(case_no)


def ask_for_supplement(case_engine: Any, case_no: str) -> None:
    """The center's triage with one 需补正 verdict (eligible otherwise)."""
    case_engine.complete_task(open_task(case_engine, case_no, "triage"), "center1",
                              {"decision": "eligible", "departments": ["minzheng"], "matters": ["linshi"],
                               "material_review": REVIEW})


def notices(url: str, case_no: str) -> list[Notification]:
    """The applicant's notices of a case, oldest first."""
    with tx(url) as session:
        return list(session.scalars(select(Notification).where(
            Notification.case_no == case_no, Notification.recipient == "applicant").order_by(Notification.id)))


def test_a_supplement_verdict_tells_everything_at_once_and_waits(case_engine: Any, clean_db: str) -> None:
    """One 补正 notice lists the defective material with its problem and the case number; the case is
    待补正 with no open task; the progress page shows the same list."""
    case_no = online_case(case_engine)
    ask_for_supplement(case_engine, case_no)
    [notice] = [n for n in notices(clean_db, case_no) if n.kind == "supplement"]
    assert notice.content.startswith(f"【社会救助 {case_no}】经县社会救助中心审查，您的申请材料需要补正（一次性告知）")
    assert "致困原因证明（医疗票据、事故证明等）：缺少住院费用票据" in notice.content and "申请书" not in notice.content
    assert instance_of(clean_db, case_no).supplement_since is not None
    assert case_engine.queries.list_tasks(case_no=case_no) == []
    shown = case_engine.queries.show_case(case_no)  # the API's case (GET /api/v1/cases/<case_no>)
    assert shown["status"] == "open" and shown["supplement"]["items"][0]["problem"] == "缺少住院费用票据"
    progress = case_engine.files.progress(case_no, CODE)
    assert progress["status"] == "待补正"
    assert progress["supplement"]["items"] == [{"material": "致困原因证明（医疗票据、事故证明等）", "matter": "linshi",
                                                "problem": "缺少住院费用票据", "department": "",
                                                "department_name": ""}]


def test_the_portal_upload_brings_the_task_back_with_the_new_files(case_engine: Any, clean_db: str) -> None:
    """A wrong code is refused like an unknown case; no file is refused; the right code with a PNG
    delivers the supplement: the triage task is open again, its context names the new file, the
    previous verdicts are prefilled, the case is no longer 待补正 and the history has the upload."""
    case_no = online_case(case_engine)
    ask_for_supplement(case_engine, case_no)
    with pytest.raises(NotFound, match="查询码不正确"):
        case_engine.supplements.submit_online(case_no, "WRONG999", [Upload("票据.png", PNG)])
    with pytest.raises(InvalidData) as empty:
        case_engine.supplements.submit_online(case_no, CODE, [])
    assert empty.value.errors == {"files": ["请选择要上传的补正材料"]}
    done = case_engine.supplements.submit_online(case_no, CODE, [Upload("住院票据.png", PNG)], note="已补齐")
    assert done["files"] == 1 and [t["form_key"] for t in done["open_tasks"]] == ["triage"]
    [task] = case_engine.queries.list_tasks(case_no=case_no)
    with tx(clean_db) as session:
        row = session.get_one(HumanTask, task["id"])
    supplement = row.context["supplement"]
    assert supplement["channel"] == "online" and [f["filename"] for f in supplement["files"]] == ["住院票据.png"]
    assert row.context["prefill"]["material_review"] == REVIEW
    assert instance_of(clean_db, case_no).supplement_since is None
    center = case_engine.accounts.principal_named("center1")
    back = case_engine.inbox.tasks(center, TaskQuery(supplemented=True))  # the inbox's 补正后待审
    assert [t["id"] for t in back.items] == [task["id"]]
    other = online_case(case_engine)
    assert [t["id"] for t in case_engine.inbox.tasks(center, TaskQuery(supplemented=True)).items] == [task["id"]]
    assert len(case_engine.inbox.tasks(center, TaskQuery()).items) == 2 and other
    history = [e["type"] for e in case_engine.queries.show_case(case_no)["history"]]
    assert history.count("supplement_received") == 1
    with pytest.raises(TaskConflict, match="不需要补正"):
        case_engine.supplements.submit_online(case_no, CODE, [Upload("again.png", PNG)])
    case_engine.complete_task(task["id"], "center1", {"decision": "eligible", "departments": ["minzheng"],
                                                      "material_review": [{**REVIEW[1], "verdict": "ok"}]})
    assert [t["form_key"] for t in case_engine.queries.list_tasks(case_no=case_no)] == ["dept_accept"]


def test_a_window_clerk_attaches_for_any_case_and_is_audited(case_engine: Any, clean_db: str) -> None:
    """Any window's clerk attaches what the applicant brought (audited); other staff may not."""
    case_no = online_case(case_engine)
    ask_for_supplement(case_engine, case_no)
    accounts: Accounts = case_engine.accounts
    with pytest.raises(Forbidden, match="仅受理窗口工作人员"):
        case_engine.supplements.attach_at_window(accounts.principal_named("mz1"), case_no, [Upload("a.png", PNG)])
    clerk = accounts.principal_named("clerk_v")
    done = case_engine.supplements.attach_at_window(clerk, case_no, [Upload("a.png", PNG)])
    assert done["files"] == 1
    with tx(clean_db) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "supplement_attached")).one()
        assert (entry.actor, entry.target) == ("clerk_v", case_no)


def test_a_wait_that_runs_out_reminds_and_asks_the_center(case_engine: Any, clean_db: str) -> None:
    """After the supplement period (10 working days) a tick reminds the applicant and opens 补正超期处理
    for the center; refusing closes the case as 不予受理 with the reason told."""
    case_no = online_case(case_engine)
    ask_for_supplement(case_engine, case_no)
    tick(case_engine, clock.now() + timedelta(days=30))
    assert [n.kind for n in notices(clean_db, case_no)][-1] == "supplement_overdue"
    task_id = open_task(case_engine, case_no, "supplement_overdue")
    assert instance_of(clean_db, case_no).supplement_since is None
    with pytest.raises(InvalidData):
        case_engine.complete_task(task_id, "center1", {"overdue_decision": "refuse"})  # the reason is required
    case_engine.complete_task(task_id, "center1", {"overdue_decision": "refuse", "reason": "期限内未补正"})
    assert instance_of(clean_db, case_no).status == "closed_declined"
    assert notices(clean_db, case_no)[-1].content.endswith("申请不予受理。理由：期限内未补正")


DEPT_ACCEPT = {"materials": ["身份证"], "location": "县社会救助中心3号窗口", "field_work": "none"}


def dispatched(case_engine: Any, departments: list[str], matters: list[str]) -> str:
    """An online case for `matters`, triaged without 补正 and dispatched to `departments`."""
    case_no, _ = case_engine.start_case(applicant(matters=matters), "online", "county", query_code=CODE,
                                        actor="applicant", consent=True)
    case_engine.complete_task(open_task(case_engine, case_no, "triage"), "center1",
                              {"decision": "eligible", "departments": departments, "matters": matters})
    if len(departments) > 1:
        case_engine.complete_task(open_task(case_engine, case_no, "joint_plan"), "joint1",
                                  {"departments": departments, "plan": "民政、医保联动"})
    return str(case_no)


def test_a_department_reviews_its_own_matters_and_asks_once(case_engine: Any, clean_db: str) -> None:
    """R-6.1.3.2 / R-6.2.2 at 受理告知: 民政局 sees the materials of its own matter only (not 医保's), its
    需补正 verdict tells the applicant once in its name and the case waits (待补正) while 医保局 works on;
    the applicant's upload brings 受理告知 back to 民政局 with the new file marked and the verdicts kept."""
    case_no = dispatched(case_engine, ["minzheng", "yibao"], ["linshi", "yiliao"])
    mz1 = case_engine.accounts.principal_named("mz1")
    accept = open_task(case_engine, case_no, "dept_accept", "minzheng")
    review = case_engine.files.task_file(mz1, accept)["review"]
    assert {r["matter"] for r in review["rows"]} == {"linshi"}
    asked = [{"matter": "linshi", "material": "申请书", "verdict": "supplement", "problem": "申请书未签字"}]
    case_engine.complete_task(accept, "mz1", {**DEPT_ACCEPT, "material_review": asked})
    [notice] = [n for n in notices(clean_db, case_no) if n.kind == "supplement"]
    assert "经民政局审查，您的申请材料需要补正（一次性告知）：1. 申请书：申请书未签字" in notice.content
    assert case_engine.files.progress(case_no, CODE)["status"] == "待补正"
    assert case_engine.files.progress(case_no, CODE)["supplement"]["items"] == [
        {"material": "申请书", "matter": "linshi", "problem": "申请书未签字", "department": "minzheng",
         "department_name": "民政局"}]
    assert [t["form_key"] for t in case_engine.queries.list_tasks(case_no=case_no)] == ["dept_accept"]  # 医保局's
    assert "accepted" not in [n.kind for n in notices(clean_db, case_no)]
    case_engine.supplements.submit_online(case_no, CODE, [Upload("签字申请书.png", PNG)])
    back = open_task(case_engine, case_no, "dept_accept", "minzheng")
    again = case_engine.files.task_file(mz1, back)
    assert again["task"]["initial"]["material_review"] == asked
    assert again["task"]["initial"]["location"] == "县社会救助中心3号窗口"
    assert [f["filename"] for f in again["review"]["files"] if f["new"]] == ["签字申请书.png"]
    assert instance_of(clean_db, case_no).supplement_since is None
    case_engine.complete_task(back, "mz1", {**DEPT_ACCEPT, "material_review": [{**asked[0], "verdict": "ok"}]})
    assert [n.kind for n in notices(clean_db, case_no)][-1] == "accepted"
    assert open_task(case_engine, case_no, "dept_result", "minzheng")


def test_two_departments_asking_are_answered_by_one_upload(case_engine: Any, clean_db: str) -> None:
    """Both departments ask; the progress page lists both requests; one upload answers both."""
    case_no = dispatched(case_engine, ["minzheng", "yibao"], ["linshi", "yiliao"])
    for department, user, matter in (("minzheng", "mz1", "linshi"), ("yibao", "yb1", "yiliao")):
        case_engine.complete_task(open_task(case_engine, case_no, "dept_accept", department), user, {
            **DEPT_ACCEPT, "material_review": [{"matter": matter, "material": "申请书", "verdict": "supplement",
                                                "problem": f"{department} 要签字"}]})
    items = case_engine.files.progress(case_no, CODE)["supplement"]["items"]
    assert [(i["department"], i["problem"]) for i in items] == [("minzheng", "minzheng 要签字"),
                                                                ("yibao", "yibao 要签字")]
    case_engine.supplements.submit_online(case_no, CODE, [Upload("申请书.png", PNG)])
    assert sorted(t["candidate_groups"][0] for t in case_engine.queries.list_tasks(case_no=case_no)) == [
        "minzheng", "yibao"]


def test_a_department_wait_that_runs_out_may_refuse_for_that_department(case_engine: Any, clean_db: str) -> None:
    """The department's 10 working days run out: the applicant is reminded in its name, the department
    gets 补正超期处理 and refusing records its result as 不予救助 with the reason; the case goes on to
    办结汇总 like any other department's result."""
    case_no = dispatched(case_engine, ["minzheng"], ["linshi"])
    case_engine.complete_task(open_task(case_engine, case_no, "dept_accept"), "mz1", {
        **DEPT_ACCEPT, "material_review": [{"matter": "linshi", "material": "申请书", "verdict": "supplement",
                                            "problem": "申请书未签字"}]})
    tick(case_engine, clock.now() + timedelta(days=30))
    reminder = [n for n in notices(clean_db, case_no) if n.kind == "supplement_overdue"]
    assert len(reminder) == 1 and "民政局将决定后续处理" in reminder[0].content
    overdue = open_task(case_engine, case_no, "supplement_overdue", "minzheng")
    case_engine.complete_task(overdue, "mz1", {"overdue_decision": "refuse", "reason": "期限内未补正签字"})
    assert notices(clean_db, case_no)[-1].content.endswith(
        "您未在补正期限内补齐民政局要求的材料，民政局不予受理。理由：期限内未补正签字")
    for task in case_engine.queries.list_tasks(case_no=case_no):  # 督办: the 15 days ran out as well
        assert task["form_key"] == "supervision"
        case_engine.complete_task(task["id"], "center1", {"note": "已督促"})
    case_engine.complete_task(open_task(case_engine, case_no, "summary"), "center1", {"summary": "未补正"})
    assert instance_of(clean_db, case_no).status == "closed_completed"
    assert "民政局：不予救助" in notices(clean_db, case_no)[-1].content
