"""投诉反馈 (R-6.2.1, R-6.3.6): a complaint from any channel is worked as the process `complaint` (分派 → 办理 →
答复 → 回访), routed to the organisation complained about or the center, never to the person it is about; the
reply reaches the complainant the one way that can (SMS, 12345, or the portal for an anonymous one); a named
relief case has it in its history; statistics count it by month, type, result and handler."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.bpmn.design import load_samples, run_samples
from engine.bpmn.design.draft import load_draft
from engine.deadlines.jobs import tick
from engine.deadlines.workcal import WorkCalendar
from engine.errors import Forbidden, InvalidData, NotFound, TaskConflict
from engine.models import Complaint, HumanTask, Notification
from engine.settings import PROJECT_ROOT
from tests.support.cases import applicant, open_task
from tests.support.db import deliver, principal, suite_settings, tx

COMPLAINT_BPMN = PROJECT_ROOT / "processes" / "complaint.bpmn"
NAMED = {"complaint_type": "attitude", "text": "窗口人员态度生硬，多次推诿", "anonymous": False, "name": "王五",
         "phone": "13700137000", "about_org": "T01"}
HANDLED = {"finding": "founded", "handling": "约谈窗口人员", "reply": "经核实属实，已批评教育"}
SATISFIED = {"satisfaction": "satisfied", "callback_note": "投诉人满意", "decision": "close"}


@pytest.fixture
def complaints(case_engine: Any) -> Any:
    """The case engine (deserialising at every step) with the complaint process deployed."""
    case_engine.deploy(COMPLAINT_BPMN.read_bytes(), COMPLAINT_BPMN.name, "test")
    return case_engine


class Recorder:
    """An outside gateway that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[Mapping[str, Any]] = []

    def send(self, notification: Mapping[str, Any]) -> None:
        self.sent.append(dict(notification))


def row(database_url: str, complaint_no: str) -> Complaint:
    with tx(database_url) as session:
        return session.scalars(select(Complaint).where(Complaint.complaint_no == complaint_no)).one()


def notices(database_url: str, case_no: str) -> list[Notification]:
    with tx(database_url) as session:
        return list(session.scalars(select(Notification).where(Notification.case_no == case_no)
                                    .order_by(Notification.id)))


def history(engine: Any, case_no: str) -> list[str]:
    return [e["type"] for e in engine.queries.show_case(case_no)["history"]]


def test_a_named_portal_complaint_is_handled_by_the_township_replied_by_sms_and_called_back(
        complaints: Any, clean_db: str) -> None:
    """About 城东街道: its staff handle it; the reply goes by SMS to the complainant's phone (the outbox finds it);
    the center's callback records the satisfaction and closes it; the complainant reads the reply online."""
    complaint_no, code = complaints.complaints.file_online(NAMED)
    assert complaint_no.startswith("TS")
    assert row(clean_db, complaint_no).status == "handling"
    [handle] = complaints.queries.list_tasks(case_no=complaint_no)
    assert (handle["form_key"], handle["candidate_groups"]) == ("complaint_handle", ["T01"])
    complaints.complete_task(handle["id"], "town1", HANDLED, principal(complaints, "town1"))
    [sms] = notices(clean_db, complaint_no)
    assert (sms.channel, sms.kind) == ("sms", "complaint_reply") and "已批评教育" in sms.content
    gateway = Recorder()
    deliver(clean_db, clock.now(), {"sms": gateway})
    assert [n["phone"] for n in gateway.sent] == ["13700137000"]
    assert complaints.complaints.progress(complaint_no, code)["reply"] == HANDLED["reply"]
    complaints.complete_task(open_task(complaints, complaint_no, "complaint_callback"), "center1", SATISFIED)
    done = row(clean_db, complaint_no)
    assert (done.status, done.finding, done.satisfaction, done.handler_org) == ("closed", "founded", "satisfied", "T01")
    assert done.closed_at is not None and done.replied_at is not None
    assert complaints.queries.show_case(complaint_no)["status"] == "closed_completed"
    assert {"complaint_assigned", "complaint_replied"} <= set(history(complaints, complaint_no))


def test_an_anonymous_complaint_gets_no_sms_and_no_callback(complaints: Any, clean_db: str) -> None:
    """Anonymous and about 民政局: the center handles it; no name or phone is kept, nothing is sent, there is no
    callback; the reply waits on the portal behind the number and query code."""
    complaint_no, code = complaints.complaints.file_online(
        {**NAMED, "anonymous": True, "about_org": "示范县民政局", "name": "不该保存", "phone": "13900000000"})
    stored = row(clean_db, complaint_no)
    assert (stored.anonymous, stored.name, stored.phone, stored.about_org) == (True, None, None, "minzheng")
    [handle] = complaints.queries.list_tasks(case_no=complaint_no)
    assert handle["candidate_groups"] == ["center"]
    complaints.complete_task(handle["id"], "center1", {**HANDLED, "finding": "unfounded"})
    assert notices(clean_db, complaint_no) == []
    assert complaints.queries.list_tasks(case_no=complaint_no) == []
    assert row(clean_db, complaint_no).status == "closed"
    seen = complaints.complaints.progress(complaint_no, code)
    assert (seen["status_label"], seen["result_name"], seen["reply"]) == ("已办结", "不属实", HANDLED["reply"])
    assert "13900000000" not in str(seen) and "不该保存" not in str(seen)
    with pytest.raises(NotFound, match="投诉编号或查询码不正确"):
        complaints.complaints.progress(complaint_no, "WRONG999")
    with pytest.raises(NotFound, match="投诉编号或查询码不正确"):
        complaints.complaints.progress("TS209901010001", code)


def test_an_unsatisfied_callback_sends_it_back_to_be_handled_again(complaints: Any, clean_db: str) -> None:
    """不满意 → 退回重办: the handler gets it again with the callback's note and the last reply filled in; the
    new reply is sent too; the second callback closes it."""
    complaint_no, _code = complaints.complaints.file_online(NAMED)
    complaints.complete_task(open_task(complaints, complaint_no, "complaint_handle"), "town1", HANDLED)
    complaints.complete_task(open_task(complaints, complaint_no, "complaint_callback"), "center1",
                             {"satisfaction": "dissatisfied", "callback_note": "处理太轻", "decision": "redo"})
    assert row(clean_db, complaint_no).status == "handling"
    [again] = complaints.queries.list_tasks(case_no=complaint_no)
    page = complaints.files.task_file(principal(complaints, "town1"), again["id"])
    assert page["task"]["initial"]["callback_note"] == "处理太轻"
    assert page["task"]["initial"]["reply"] == HANDLED["reply"]
    complaints.complete_task(again["id"], "town1", {**HANDLED, "reply": "已书面检查并致歉"})
    assert [n.content.endswith("已书面检查并致歉。如有疑问，可拨打监督投诉电话。")
            for n in notices(clean_db, complaint_no)] == [False, True]
    complaints.complete_task(open_task(complaints, complaint_no, "complaint_callback"), "center1",
                             {**SATISFIED, "satisfaction": "basically_satisfied"})
    assert (row(clean_db, complaint_no).status, row(clean_db, complaint_no).satisfaction) == \
        ("closed", "basically_satisfied")


def test_a_named_relief_case_has_the_complaint_in_its_history(complaints: Any, clean_db: str) -> None:
    """Linked to SJ…: the relief case's history notes the complaint when filed and when answered, with the
    complaint's number and type, not its text."""
    case_no, _ = complaints.start_case(applicant(), "window", "village", actor="clerk_v", org="T01V01")
    complaint_no, _code = complaints.complaints.file_online({**NAMED, "case_no": case_no.lower()})
    assert row(clean_db, complaint_no).relief_case_no == case_no
    complaints.complete_task(open_task(complaints, complaint_no, "complaint_handle"), "town1", HANDLED)
    entries = complaints.files.case_file(principal(complaints, "center1"), case_no)["history"]
    noted = [(e["type"], e["detail"]) for e in entries if e["type"].startswith("complaint_")]
    assert noted == [("complaint_filed", f"投诉 {complaint_no}（服务态度）"),
                     ("complaint_answered", f"投诉 {complaint_no} 已答复：属实")]
    assert not any(NAMED["text"] in e["detail"] for e in entries)


def test_a_complaint_about_a_person_never_reaches_them(complaints: Any, clean_db: str) -> None:
    """About village1 (东湖社区): the village's other staff and the township see and work it; village1 does not see
    it in the inbox or the API's task list, cannot open, claim or complete it, cannot be assigned it, and
    cannot open the complaint's case."""
    complaint_no, _code = complaints.complaints.register(
        principal(complaints, "center1"), "phone", {**NAMED, "about_org": "", "about_user": "village1"})
    assert (row(clean_db, complaint_no).about_org, row(clean_db, complaint_no).handler_org) == ("T01V01", "T01V01")
    [task] = complaints.queries.list_tasks(case_no=complaint_no)
    person, colleague, township = (principal(complaints, u) for u in ("village1", "clerk_v", "town1"))
    query = complaints.inbox.tasks(colleague, _query()).items
    assert [t["id"] for t in query] == [task["id"]]
    assert complaints.inbox.tasks(person, _query()).items == []
    assert complaints.inbox.tasks(person, _query()).total == 0
    with pytest.raises(NotFound):
        complaints.files.task_file(person, task["id"])
    with pytest.raises(NotFound):
        complaints.claim_task(task["id"], "village1", person)
    with pytest.raises(NotFound):
        complaints.complete_task(task["id"], "village1", HANDLED, person)
    with pytest.raises(NotFound):
        complaints.queries.show_case(complaint_no, person)
    with pytest.raises(InvalidData, match="无法指派"):
        complaints.assign_task(task["id"], "village1", by="center1", principal=principal(complaints, "center1"))
    assert "village1" not in [c["username"] for c in complaints.files.task_file(
        principal(complaints, "center1"), task["id"])["assignees"]]
    assert complaints.files.task_file(township, task["id"])["actions"]["claim"] is True
    complaints.claim_task(task["id"], "clerk_v", colleague)
    complaints.complete_task(task["id"], "clerk_v", HANDLED, colleague)


def test_a_complaint_about_a_center_officer_is_kept_from_them_despite_their_role(complaints: Any,
                                                                                  clean_db: str) -> None:
    """The center sees every task, but not the one about its own officer; another officer works it."""
    complaints.accounts.create_user("center2", "Lotus-Harbor-58-Quill", "center", ["center"],
                                    display_name="救助中心 何平")
    complaint_no, _code = complaints.complaints.register(
        principal(complaints, "clerk_c"), "window", {**NAMED, "about_org": "", "about_user": "center1"})
    [task] = complaints.queries.list_tasks(case_no=complaint_no)
    assert task["candidate_groups"] == ["center"]
    officer, other = principal(complaints, "center1"), principal(complaints, "center2")
    assert task["id"] not in [t["id"] for t in complaints.inbox.tasks(officer, _query()).items]
    assert task["id"] in [t["id"] for t in complaints.inbox.tasks(other, _query()).items]
    with pytest.raises(NotFound):
        complaints.claim_task(task["id"], "center1", officer)
    complaints.claim_task(task["id"], "center2", other)


def test_the_person_complained_about_gets_no_reminder_or_escalation(complaints: Any, clean_db: str) -> None:
    """临期提醒 and 超期 go to the village's other staff and the township, not to village1 it is about."""
    complaint_no, _code = complaints.complaints.register(
        principal(complaints, "center1"), "phone", {**NAMED, "about_org": "", "about_user": "village1"})
    tick(complaints, clock.now() + timedelta(days=30))
    with tx(clean_db) as session:
        told = session.scalars(select(Notification).where(Notification.case_no == complaint_no,
                                                          Notification.channel == "in_app")).all()
    assert {n.kind for n in told} == {"overdue", "due_soon"}
    assert {"clerk_v", "town1"} <= {n.username for n in told} and "village1" not in {n.username for n in told}


def test_routing(complaints: Any, clean_db: str) -> None:
    """A village or township handles what is about itself; the center what is about a department, itself or no
    one; a complaint about the only member of an organisation goes to the center."""
    center1 = principal(complaints, "center1")
    cases = {"T01V02": "T01V02", "yibao": "center", "center": "center", "": "center"}
    for about, handler in cases.items():
        complaint_no, _code = complaints.complaints.register(center1, "phone", {**NAMED, "about_org": about})
        assert row(clean_db, complaint_no).handler_org == handler, about
    alone, _code = complaints.complaints.register(center1, "phone", {**NAMED, "about_org": "", "about_user": "town1"})
    assert (row(clean_db, alone).about_org, row(clean_db, alone).handler_org) == ("T01", "center")


def test_refusals_name_every_problem_and_store_nothing(complaints: Any, clean_db: str) -> None:
    """No type, no text, a named complaint without a valid phone, an unknown case, organisation or user."""
    with pytest.raises(InvalidData) as refused:
        complaints.complaints.file_online({"complaint_type": "nope", "text": " ", "anonymous": False, "name": "王五",
                                           "phone": "12345", "case_no": "SJ209901010001", "about_org": "火星局"})
    assert set(refused.value.errors) == {"complaint_type", "text", "phone", "case_no", "about_org"}
    with pytest.raises(InvalidData) as no_contact:
        complaints.complaints.file_online({**NAMED, "name": "", "phone": ""})
    assert no_contact.value.errors["phone"] == ["请填写联系电话（用于告知办理结果），或选择匿名投诉"]
    assert "name" in no_contact.value.errors
    with pytest.raises(InvalidData) as unknown:
        complaints.complaints.register(principal(complaints, "center1"), "phone", {**NAMED, "about_user": "nobody"})
    assert unknown.value.errors == {"about_user": ["未知的工作人员：nobody"]}
    with tx(clean_db) as session:
        assert session.scalars(select(Complaint)).all() == []
        assert session.scalars(select(HumanTask)).all() == []


def test_who_may_register_which_channel(complaints: Any) -> None:
    """A window clerk registers at the window, a center officer from the 监督投诉电话; a department may not."""
    with pytest.raises(Forbidden):
        complaints.complaints.register(principal(complaints, "clerk_v"), "phone", NAMED)
    with pytest.raises(Forbidden):
        complaints.complaints.register(principal(complaints, "mz1"), "window", NAMED)
    complaint_no, code = complaints.complaints.register(principal(complaints, "clerk_v"), "window", NAMED)
    assert complaints.complaints.progress(complaint_no, code)["channel_label"] == "窗口投诉"


def test_overdue_handling_gets_supervision(complaints: Any) -> None:
    """办理 not done in 10 working days: the center gets 投诉督办, the handling task stays open."""
    complaint_no, _code = complaints.complaints.file_online(NAMED)
    tick(complaints, clock.now() + timedelta(days=30))
    assert sorted(t["form_key"] for t in complaints.queries.list_tasks(case_no=complaint_no)) == \
        ["complaint_handle", "supervision"]


def test_counts_by_month_type_result_and_handler_in_scope(complaints: Any, clean_db: str) -> None:
    """The statistics' input: per month, type, result (pending until handled) and handler; the center counts
    all, a township its own; never the complaints about oneself; a malformed period is refused."""
    first, _ = complaints.complaints.file_online(NAMED)
    complaints.complaints.file_online(NAMED)
    complaints.complaints.file_online({**NAMED, "complaint_type": "efficiency", "about_org": "yibao"})
    complaints.complaints.file_online({**NAMED, "about_org": "", "about_user": "center1"})
    complaints.complete_task(open_task(complaints, first, "complaint_handle"), "town1", HANDLED)
    month = clock.local_text(clock.now(), "%Y-%m")
    shown = {(r["complaint_type"], r["result"], r["handler_org"]): r["count"]
             for r in complaints.complaints.counts(principal(complaints, "admin1"), month)}
    assert shown == {("attitude", "founded", "T01"): 1, ("attitude", "pending", "T01"): 1,
                     ("efficiency", "pending", "center"): 1, ("attitude", "pending", "center"): 1}
    [officer_view] = [r for r in complaints.complaints.counts(principal(complaints, "center1"), month[:4])
                      if r["handler_org"] == "center"]
    assert (officer_view["complaint_type"], officer_view["count"]) == ("efficiency", 1)
    township = complaints.complaints.counts(principal(complaints, "town1"), month)
    assert {(r["result_name"], r["handler_name"], r["count"]) for r in township} == {("属实", "城东街道", 1),
                                                                                     ("未办结", "城东街道", 1)}
    assert complaints.complaints.counts(principal(complaints, "hotline12345"), month) == []
    with pytest.raises(InvalidData):
        complaints.complaints.counts(principal(complaints, "center1"), "2026-13")


def test_the_samples_pass_and_cover_every_element() -> None:
    """processes/samples/complaint.yaml: every sample passes and together they pass every element."""
    settings = suite_settings()
    calendar = WorkCalendar.load(settings.calendar_file)
    xml = COMPLAINT_BPMN.read_bytes()
    results = run_samples(xml, load_samples("complaint"), settings, calendar)
    assert [r.message for r in results if r.status != "passed"] == []
    visited = set().union(*(r.elements for r in results))
    assert set(load_draft(xml).elements) - visited == set()


def test_a_closed_complaint_cannot_be_worked_again(complaints: Any) -> None:
    """After the callback closed it, its tasks are done: completing one again is a conflict."""
    complaint_no, _code = complaints.complaints.file_online(NAMED)
    handle = open_task(complaints, complaint_no, "complaint_handle")
    complaints.complete_task(handle, "town1", HANDLED)
    with pytest.raises(TaskConflict):
        complaints.complete_task(handle, "town1", HANDLED)


def _query() -> Any:
    from engine.cases.inbox import TaskQuery

    return TaskQuery()
