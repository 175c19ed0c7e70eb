"""投诉反馈 and 意见簿 pages (R-6.2.1, R-6.3.6): the portal's complaint form, its lookup by number and query code,
the comment book; staff registration of complaints, the center's answers; 12345 complaint work orders through the
REST API to a reply pushed back; refusals keep what was typed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from sqlalchemy import select

from engine.models import CaseEvent, Complaint, Notification, Suggestion
from engine.settings import PROJECT_ROOT
from tests.support.db import tx
from tests.support.web import make_app

COMPLAINT_BPMN = PROJECT_ROOT / "processes" / "complaint.bpmn"
FORM = {"complaint_type": "attitude", "text": "窗口人员态度生硬", "about_org": "T01", "name": "王五",
        "phone": "13700137000"}
ORDER = {"order_no": "GD202612020001", "caller": "李四", "phone": "13900001111", "content": "民政窗口推诿不办",
         "type": "投诉", "region": "城东街道", "time": "2026-01-05T09:00:00+08:00", "about_org": "minzheng"}
HANDLED = {"finding": "partly_founded", "handling": "约谈", "reply": "已责成民政局限期办理"}


@pytest.fixture
def deployed(engine: Any) -> Any:
    """The app's database with the complaint process deployed."""
    engine.deploy(COMPLAINT_BPMN.read_bytes(), COMPLAINT_BPMN.name, "test")
    return engine


def html(response: Any) -> Any:
    return lxml.html.fromstring(response.data.decode())


def text_of(page: Any, xpath: str) -> str:
    return " ".join(" ".join(e.text_content().split()) for e in page.xpath(xpath))


def filed(client: Any, **changes: Any) -> tuple[str, str]:
    """File FORM (with `changes`) on the portal; return the number and query code shown."""
    response = client.post("/portal/complaints", data={**FORM, **changes})
    assert response.status_code == 200, response.data.decode()
    assert response.headers["Cache-Control"] == "no-store"
    page = html(response)
    return text_of(page, '//*[@id="complaint-no"]'), text_of(page, '//*[@id="query-code"]')


def complaint(database_url: str, complaint_no: str) -> Complaint:
    with tx(database_url) as session:
        return session.scalars(select(Complaint).where(Complaint.complaint_no == complaint_no)).one()


def test_the_portal_form_files_a_complaint_and_the_lookup_shows_its_reply(client: Any, deployed: Any,
                                                                        demo_db: str) -> None:
    """GET shows the types and organisations; POST gives TS… and a code; the lookup shows 办理中, then the reply
    after the handler answered; the contact never appears on the lookup."""
    form = html(client.get("/portal/complaints"))
    assert "服务态度" in text_of(form, '//select[@name="complaint_type"]')
    assert "城东街道" in text_of(form, '//select[@name="about_org"]')
    complaint_no, code = filed(client)
    assert re.fullmatch(r"TS\d{12}", complaint_no) and len(code) == 8
    looked = client.post("/portal/complaints/query", data={"complaint_no": complaint_no.lower(), "query_code": code})
    assert looked.status_code == 200 and looked.headers["Cache-Control"] == "no-store"
    assert text_of(html(looked), '//*[@id="complaint-status"]') == "办理中"
    [task] = deployed.queries.list_tasks(case_no=complaint_no)
    deployed.complete_task(task["id"], "town1", HANDLED)
    page = html(client.post("/portal/complaints/query", data={"complaint_no": complaint_no, "query_code": code}))
    assert text_of(page, '//*[@id="complaint-reply"]') == HANDLED["reply"]
    shown = text_of(page, '//main')
    assert "城东街道" in shown and "部分属实" in shown
    assert "13700137000" not in shown and "王五" not in shown and "7000" not in shown


def test_a_wrong_code_gets_one_message(client: Any, deployed: Any) -> None:
    """A wrong code and an unknown number answer alike: 404 with the same words."""
    complaint_no, _code = filed(client)
    for number, code in ((complaint_no, "AAAAAAAA"), ("TS209901010001", "AAAAAAAA")):
        response = client.post("/portal/complaints/query", data={"complaint_no": number, "query_code": code})
        assert response.status_code == 404
        assert text_of(html(response), '//*[@id="complaint-query-error"]') == "投诉编号或查询码不正确"


def test_a_refused_complaint_keeps_what_was_typed(client: Any, deployed: Any, demo_db: str) -> None:
    """No type and a bad phone: 422, a Chinese message at each field, the text and name still there."""
    response = client.post("/portal/complaints", data={**FORM, "complaint_type": "", "phone": "12345"})
    assert response.status_code == 422
    page = html(response)
    assert text_of(page, '//*[@id="err-complaint_type"]') == "请选择投诉类型"
    assert "手机号码格式不正确" in text_of(page, '//*[@id="err-phone"]')
    assert page.xpath('//textarea[@name="text"]')[0].text == FORM["text"]
    assert page.xpath('//input[@name="name"]/@value') == ["王五"]
    assert page.xpath('//select[@name="about_org"]/option[@selected]/@value') == ["T01"]
    with tx(demo_db) as session:
        assert session.scalars(select(Complaint)).all() == []


def test_an_anonymous_complaint_keeps_no_contact(client: Any, deployed: Any, demo_db: str) -> None:
    """匿名投诉 ticked: filed without name or phone even if typed; the page says the reply is read online."""
    response = client.post("/portal/complaints", data={**FORM, "anonymous": "1"})
    page = html(response)
    assert "短信告知" not in text_of(page, '//*[@id="complaint-filed"]')
    stored = complaint(demo_db, text_of(page, '//*[@id="complaint-no"]'))
    assert (stored.anonymous, stored.name, stored.phone) == (True, None, None)


def test_without_the_process_the_portal_says_where_else_to_go(client: Any, demo_db: str) -> None:
    """The complaint process not deployed: 503 with the other ways to complain, and the text kept."""
    response = client.post("/portal/complaints", data=FORM)
    assert response.status_code == 503
    assert "监督投诉电话" in text_of(html(response), '//*[@id="complaint-refused"]')
    assert html(response).xpath('//textarea[@name="text"]')[0].text == FORM["text"]


def test_the_home_tile_leads_to_the_form(client: Any) -> None:
    """The portal's 投诉反馈 and 意见簿 tiles link to their pages."""
    page = html(client.get("/portal/"))
    assert page.xpath('//a[@id="complaints"]/@href') == ["/portal/complaints"]
    assert page.xpath('//a[@id="suggestion-book"]/@href') == ["/portal/suggestions"]


@pytest.mark.parametrize("path", ["/portal/complaints", "/portal/complaints/query", "/portal/suggestions"])
def test_the_public_posts_are_rate_limited(demo_db: str, tmp_path: Path, path: str) -> None:
    """With a limit of 2 per minute the 3rd POST from one address gets 429."""
    app = make_app(demo_db, tmp_path, RATELIMIT_ENABLED=True, PORTAL_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [client.post(path, data={}).status_code for _ in range(3)]
    assert statuses[2] == 429 and 429 not in statuses[:2]


def test_the_comment_book_on_the_portal(client: Any, login: Any, demo_db: str) -> None:
    """A suggestion is received (its contact never shown); once the center answers it in public it is listed with
    its answer; one answered privately is not; an empty one is refused with the contact kept."""
    refused = client.post("/portal/suggestions", data={"text": " ", "contact": "微信 abc"})
    assert refused.status_code == 422 and html(refused).xpath('//input[@name="contact"]/@value') == ["微信 abc"]
    sent = client.post("/portal/suggestions", data={"text": "周六能否开放", "contact": "13800138000"})
    assert sent.status_code == 200 and html(sent).xpath('//*[@id="suggestion-received"]')
    client.post("/portal/suggestions", data={"text": "不公开的意见", "contact": ""})
    with tx(demo_db) as session:
        public, private = sorted(session.scalars(select(Suggestion.id)).all())
    center = login("center1")
    listed = html(center.get("/feedback/suggestions?answered=unanswered"))
    assert text_of(listed, f'//*[@id="suggestion-{public}"]').count("138****8000") == 1
    center.post(f"/feedback/suggestions/{public}/answer", data={"answer": "下月起周六上午开放", "public": "1"})
    center.post(f"/feedback/suggestions/{private}/answer", data={"answer": "收悉"})
    book = text_of(html(client.get("/portal/suggestions")), '//*[@id="public-suggestions"]')
    assert "周六能否开放" in book and "下月起周六上午开放" in book
    assert "不公开的意见" not in book and "138" not in book


def test_the_center_answers_and_a_refused_answer_keeps_the_text(login: Any, demo_db: str) -> None:
    """The center's list filters answered/unanswered; an empty answer is 422 at that entry, its tick kept;
    departments may not see the list."""
    clerk = login("clerk_c")
    entered = clerk.post("/feedback/suggestions/new", data={"text": "大厅座椅太少", "contact": ""})
    assert entered.status_code == 302
    with tx(demo_db) as session:
        [entry] = session.scalars(select(Suggestion)).all()
    assert (entry.channel, entry.entered_by) == ("hall", "clerk_c")
    center = login("center1")
    refused = center.post(f"/feedback/suggestions/{entry.id}/answer", data={"answer": " ", "public": "1"})
    assert refused.status_code == 422
    page = html(refused)
    assert text_of(page, f'//*[@id="err-answer-{entry.id}"]') == "请填写答复内容"
    assert page.xpath(f'//li[@id="suggestion-{entry.id}"]//input[@name="public"]/@checked')
    assert center.post(f"/feedback/suggestions/{entry.id}/answer", data={"answer": "已增加座椅"}).status_code == 302
    assert html(center.get("/feedback/suggestions?answered=unanswered")).xpath('//*[@id="no-suggestions"]')
    assert html(center.get("/feedback/suggestions?answered=answered")).xpath(f'//*[@id="suggestion-{entry.id}"]')
    assert login("mz1").get("/feedback/suggestions").status_code == 403
    assert login("mz1").get("/feedback/suggestions/new").status_code == 403


def test_staff_register_complaints_on_their_own_channel(login: Any, deployed: Any, demo_db: str) -> None:
    """A window clerk registers at the window, a center officer from the 监督投诉电话 (naming the person it is about);
    the code is shown once; a department may not register; a refusal keeps what was typed."""
    clerk = login("clerk_v")
    form = html(clerk.get("/feedback/complaints/new"))
    assert form.xpath('//input[@name="channel"]/@value') == ["window"]
    done = clerk.post("/feedback/complaints/new", data={**FORM, "channel": "window"})
    assert done.status_code == 302
    shown = clerk.get(done.headers["Location"])
    assert shown.headers["Cache-Control"] == "no-store"
    complaint_no = text_of(html(shown), '//*[@id="complaint-no"]')
    assert complaint(demo_db, complaint_no).registered_by == "clerk_v"
    assert clerk.get(done.headers["Location"]).status_code == 404  # the code is shown once
    assert clerk.post("/feedback/complaints/new", data={**FORM, "channel": "phone"}).status_code == 422
    officer = login("center1")
    assert html(officer.get("/feedback/complaints/new")).xpath('//input[@name="channel"]/@value') == ["phone"]
    refused = officer.post("/feedback/complaints/new", data={**FORM, "channel": "phone", "about_user": "nobody"})
    assert refused.status_code == 422
    assert html(refused).xpath('//input[@name="about_user"]/@value') == ["nobody"]
    assert officer.post("/feedback/complaints/new",
                        data={**FORM, "channel": "phone", "about_user": "village1"}).status_code == 302
    assert login("mz1").get("/feedback/complaints/new").status_code == 403


def test_a_12345_complaint_work_order_runs_to_a_reply_pushed_back(client: Any, bearer: Any, deployed: Any,
                                                                  demo_db: str) -> None:
    """POST a 投诉 work order with the integration token: a complaint (TS…) for the center, not a relief case; the
    officer lists and completes it through the API; the reply is queued for 12345 with the order number; the
    callback closes it without a second 回单; the order's state shows the reply; a repeat is the same complaint."""
    hotline, officer = bearer("hotline12345"), bearer("center1")
    pushed = client.post("/api/v1/hotline/work-orders", json=ORDER, headers=hotline)
    assert pushed.status_code == 201
    complaint_no = pushed.json["case_no"]
    assert complaint_no.startswith("TS") and complaint(demo_db, complaint_no).channel == "hotline"
    assert (complaint(demo_db, complaint_no).about_org, complaint(demo_db, complaint_no).name) == ("minzheng", "李四")
    [task] = client.get(f"/api/v1/tasks?case_no={complaint_no}", headers=officer).json["items"]
    assert task["form_key"] == "complaint_handle"
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": HANDLED}, headers=officer)
    assert done.status_code == 200
    with tx(demo_db) as session:
        [reply] = session.scalars(select(Notification).where(Notification.case_no == complaint_no)).all()
    assert (reply.channel, reply.recipient, reply.kind) == ("hotline", "hotline", "complaint_reply")
    assert reply.details["order_no"] == ORDER["order_no"] and HANDLED["reply"] in reply.content
    [callback] = done.json["open_tasks"]
    client.post(f"/api/v1/tasks/{callback['id']}/complete", headers=officer,
                json={"data": {"satisfaction": "satisfied", "callback_note": "满意", "decision": "close"}})
    state = client.get(f"/api/v1/hotline/work-orders/{ORDER['order_no']}", headers=hotline).json
    assert (state["case_no"], state["status"], state["closed"]) == (complaint_no, "closed", True)
    assert HANDLED["reply"] in state["result"]
    with tx(demo_db) as session:
        assert len(session.scalars(select(Notification).where(Notification.recipient == "hotline")).all()) == 1
    again = client.post("/api/v1/hotline/work-orders", json={**ORDER, "content": "补充"}, headers=hotline)
    assert (again.status_code, again.json["case_no"]) == (200, complaint_no)
    with tx(demo_db) as session:
        [repeat] = session.scalars(select(CaseEvent).where(CaseEvent.type == "hotline_order_repeated")).all()
    assert repeat.data["changed_fields"] == ["content"]


def test_a_bad_complaint_work_order_is_refused_with_its_fields(client: Any, bearer: Any, deployed: Any) -> None:
    """An unknown 被投诉单位 or complaint type: 422 naming the field, nothing started."""
    refused = client.post("/api/v1/hotline/work-orders", headers=bearer("hotline12345"),
                          json={**ORDER, "about_org": "火星局", "complaint_type": "nope"})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"about_org", "complaint_type"}


def test_the_openapi_document_describes_complaint_work_orders(client: Any) -> None:
    """The work order schema documents the complaint fields and says a 投诉 order starts a complaint."""
    document = client.get("/api/v1/openapi.json").json
    properties = document["components"]["schemas"]["WorkOrder"]["properties"]
    assert {"complaint_type", "about_org", "case_no"} <= set(properties)
    assert "投诉" in document["paths"]["/hotline/work-orders"]["post"]["description"]


def test_the_staff_pages_are_in_the_navigation(app: Flask, login: Any) -> None:
    """投诉登记 for clerks and center officers, 意见簿 for the center (its list) and clerks (the entry form); a
    department has only the 好差评 statistics."""
    def links(user: str) -> list[str]:
        return html(login(user).get("/")).xpath('//nav[@class="mainnav"]/a/@href')

    assert "/feedback/complaints/new" in links("clerk_v") and "/feedback/suggestions/new" in links("clerk_v")
    assert {"/feedback/complaints/new", "/feedback/suggestions"} <= set(links("center1"))
    assert [link for link in links("mz1") if link.startswith("/feedback/")] == ["/feedback/"]


def test_the_handler_works_the_complaint_on_its_task_page(client: Any, login: Any, deployed: Any,
                                                          demo_db: str) -> None:
    """town1 opens 投诉办理: the complaint with its contact masked; submitting the form replies; the complaint's
    case page shows the reply in its history; village1 gets 404 on a complaint about them."""
    complaint_no, _code = filed(client)
    [task] = deployed.queries.list_tasks(case_no=complaint_no)
    handler = login("town1")
    page = html(handler.get(f"/tasks/{task['id']}"))
    summary = page.xpath('//*[@name="complaint_summary"]')[0].text_content()
    assert FORM["text"] in summary and "137****7000" in summary and "13700137000" not in summary
    done = handler.post(f"/tasks/{task['id']}/complete", data=HANDLED)
    assert done.status_code == 302
    history = text_of(html(login("center1").get(f"/cases/{complaint_no}")), "//main")
    assert "答复投诉人" in history and HANDLED["reply"] in history
    about = deployed.complaints.register(deployed.accounts.principal_named("center1"), "phone",
                                         {**FORM, "about_org": "", "about_user": "village1"})[0]
    [kept] = deployed.queries.list_tasks(case_no=about)
    village1 = login("village1")
    assert village1.get(f"/tasks/{kept['id']}").status_code == 404
    assert village1.get(f"/cases/{about}").status_code == 404
    assert kept["id"] not in village1.get("/").data.decode()
