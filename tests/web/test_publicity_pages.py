"""救助公示 pages (R-6.2.1, GB/T 37973): the portal lists entries masked, filters them, takes objections;
no page of it ever shows an ID number, phone, address or full name; administrators withdraw with a reason."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest
from flask import Flask

from engine import clock
from engine.settings import PROJECT_ROOT
from tests.support.cases import applicant, open_task

OBJECTION_BPMN = PROJECT_ROOT / "processes" / "notice_objection.bpmn"
PEOPLE = [  # name, ID number, phone, address, township, village
    ("王小明", "34052419800101001X", "13800138000", "城东街道东湖社区3栋201室", "T01", "T01V01"),
    ("李四海", "110101199003074514", "13912345678", "城东街道东湖社区8栋102室", "T01", "T01V01"),
    ("赵钱孙", "440524198001010013", "13700001234", "西湖镇杨柳村12号", "T02", None),
]


def approve(engine: Any, name: str, id_number: str, phone: str, address: str, township: str,
            village: str | None) -> str:
    """A 低保 case of this person approved by 民政局 (so published)."""
    level = "village" if village else "township"
    region = {"township": township, "village": village}
    if village is None:
        region["village"] = engine.queries.regions()["villages"][-1][0]
        region["township"] = [v for v in engine.queries.regions()["villages"] if v[0] == region["village"]][0][2]
    case_no, _ = engine.start_case(applicant(name=name, id_number=id_number, phone=phone, address=address,
                                             region=region, matters=["dibao"]), "window", level)
    engine.complete_task(open_task(engine, case_no, "triage"), "center1",
                         {"decision": "eligible", "departments": ["minzheng"]})
    engine.complete_task(open_task(engine, case_no, "dept_accept"), "mz1",
                         {"materials": ["身份证"], "location": "民政局窗口", "field_work": "none"})
    engine.complete_task(open_task(engine, case_no, "dept_result"), "mz1",
                         {"outcome": "approved", "content": "纳入低保", "amount": 650, "household_size": 2})
    return case_no


@pytest.fixture
def published(engine: Any) -> list[str]:
    """The three people's cases, approved and published."""
    return [approve(engine, *person) for person in PEOPLE]


def assert_no_personal_data(html: str) -> None:
    """None of the people's ID numbers, phones, addresses or full names is in `html`."""
    for name, id_number, phone, address, _township, _village in PEOPLE:
        for secret in (name, id_number, id_number[-8:], phone, phone[-8:], address, address[-6:]):
            assert secret not in html, secret


def test_no_page_or_filter_of_the_notices_shows_personal_data(app: Flask, published: list[str]) -> None:
    """Every list, filter, page and detail of 救助公示 shows the masked names and never the personal data."""
    portal = app.test_client()
    month = clock.local_text(clock.now(), "%Y-%m")
    pages = ["/portal/notices", "/portal/notices?township=T01", "/portal/notices?village=T01V01",
             f"/portal/notices?month={month}", "/portal/notices?month=2001-01", "/portal/notices?page=2",
             "/portal/notices?township=T01&village=T01V01&month=" + month]
    listing = portal.get("/portal/notices")
    ids = lxml.html.fromstring(listing.data.decode()).xpath('//tr[@data-notice-id]/@data-notice-id')
    assert len(ids) == 3
    for path in [*pages, *(f"/portal/notices/{i}" for i in ids)]:
        response = portal.get(path)
        assert response.status_code == 200, path
        assert_no_personal_data(response.data.decode())
    text = listing.data.decode()
    assert "王**" in text and "李**" in text and "赵**" in text
    t01 = lxml.html.fromstring(portal.get("/portal/notices?township=T01").data.decode())
    assert len(t01.xpath('//tr[@data-notice-id]')) == 2


def test_an_objection_from_the_portal(app: Flask, engine: Any, published: list[str]) -> None:
    """An empty objection comes back 422; one with text is received and starts the center's review."""
    engine.deploy(OBJECTION_BPMN.read_bytes(), OBJECTION_BPMN.name, "test")
    portal = app.test_client()
    notice_id = lxml.html.fromstring(portal.get("/portal/notices").data.decode()).xpath(
        '//tr[@data-notice-id]/@data-notice-id')[0]
    assert portal.post(f"/portal/notices/{notice_id}", data={"text": " "}).status_code == 422
    done = portal.post(f"/portal/notices/{notice_id}", data={"text": "该户家中有经营性车辆", "contact": "13611112222"})
    assert done.status_code == 200 and "异议已收到" in done.data.decode()
    reviews = [t for t in engine.queries.list_tasks(group="center") if t["form_key"] == "objection_review"]
    assert len(reviews) == 1
    assert "13611112222" not in portal.get(f"/portal/notices/{notice_id}").data.decode()


def test_administrators_withdraw_and_others_may_not(login: Any, published: list[str]) -> None:
    """The admin list shows case numbers and statuses; a withdrawal needs a reason; non-admins get 403."""
    assert login("mz1").get("/admin/notices/").status_code == 403
    admin = login("admin1")
    page = lxml.html.fromstring(admin.get("/admin/notices/").data.decode())
    rows = page.xpath('//table[@id="admin-notices"]/tbody/tr')
    assert len(rows) == 3
    notice_id = rows[0].get("id").split("-")[1]
    assert page.xpath(f'//tr[@id="notice-{notice_id}"]//button/@data-confirm')
    assert admin.post(f"/admin/notices/{notice_id}/withdraw", data={"reason": ""}).status_code == 422
    assert admin.post(f"/admin/notices/{notice_id}/withdraw", data={"reason": "金额录入错误"}).status_code == 302
    assert login("mz1").post(f"/admin/notices/{notice_id}/withdraw", data={"reason": "x"}).status_code == 403
    portal = admin.get(f"/portal/notices/{notice_id}")
    assert portal.status_code == 404
