"""好差评 in the pages and interfaces (R-6.3.6): the portal's rating by case number and query code (once,
追评 after a 差评's rectification), the 12345 回访满意度 through the API, the staff statistics page
scoped per user, and the CLI's `case rate` and `feedback stats` contracts."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest
from flask import Flask

from tests.support.cases import RECTIFICATION_BPMN, closed_case, open_task
from tests.support.cli import relief

CODE = "ABCD2345"
ORDER = {"order_no": "GD202612010001", "caller": "李四", "phone": "13900001111",
         "content": "家中失火，生活困难，请求帮助", "type": "求助", "region": "青阳镇河口村",
         "time": "2026-12-01T09:00:00+08:00"}


def doc(response: Any) -> Any:
    return lxml.html.fromstring(response.data.decode())


@pytest.fixture
def rating_ready(engine: Any) -> Any:
    """The app's database with the rectification process deployed."""
    engine.deploy(RECTIFICATION_BPMN.read_bytes(), RECTIFICATION_BPMN.name, "test")
    return engine


def test_the_portal_rates_an_ended_case_once(app: Flask, rating_ready: Any) -> None:
    """Wrong code → 404 with the one message; the right code shows the levels and the portal's tags; a
    missing level keeps what was typed; 满意 is thanked; a second rating is not offered."""
    case_no = closed_case(rating_ready, query_code=CODE)
    client = app.test_client()
    page = doc(client.get(f"/portal/rate?case={case_no}"))
    assert page.xpath('//input[@name="case_no"]/@value') == [case_no]
    wrong = client.post("/portal/rate", data={"case_no": case_no, "query_code": "WRONG999"})
    assert wrong.status_code == 404 and "案件编号或查询码不正确" in wrong.data.decode()
    form = doc(client.post("/portal/rate", data={"case_no": case_no, "query_code": CODE}))
    assert form.xpath('//fieldset[@id="levels"]//label/text()[normalize-space()]')[0].strip() == "非常满意"
    assert "平台操作性" in form.text_content() and "服务态度" not in form.xpath('string(//fieldset[@id="tags"])')
    missing = client.post("/portal/rate", data={"case_no": case_no, "query_code": CODE, "level": "",
                                                "tags": ["overall"], "comment": "还行"})
    assert missing.status_code == 422 and "请选择评价等级" in missing.data.decode()
    assert doc(missing).xpath('//textarea[@name="comment"]/text()') == ["还行"]
    done = client.post("/portal/rate", data={"case_no": case_no, "query_code": CODE, "level": "satisfied",
                                             "tags": ["overall", "usability"]})
    shown = doc(done)
    assert done.status_code == 200 and "感谢您的评价（满意）" in shown.xpath('string(//*[@id="rate-done"])')
    assert shown.xpath('//form[@id="rate-form"]') == []
    later = doc(client.post("/portal/rate", data={"case_no": case_no, "query_code": CODE}))
    assert later.xpath('//form[@id="rate-form"]') == []
    assert "只能评价一次" in later.xpath('string(//*[@id="rate-closed"])')


def test_the_progress_page_offers_the_rating_once_the_case_ended(app: Flask, rating_ready: Any) -> None:
    case_no = closed_case(rating_ready, query_code=CODE)
    page = doc(app.test_client().post("/portal/query", data={"case_no": case_no, "query_code": CODE}))
    assert page.xpath('//form[@id="rate-this"]/@action') == ["/portal/rate"]


def test_a_poor_rating_then_its_follow_up_on_the_portal(app: Flask, rating_ready: Any) -> None:
    case_no = closed_case(rating_ready, query_code=CODE)
    client = app.test_client()
    rated = doc(client.post("/portal/rate", data={"case_no": case_no, "query_code": CODE, "level": "dissatisfied"}))
    assert "1 个工作日内回访" in rated.xpath('string(//*[@id="rate-done"])')
    loop = rating_ready.ratings.of_case(case_no)[0]["rectification_case_no"]
    for form_key, data in (("feedback_callback", {"callback_result": "reached", "callback_note": "慢"}),
                           ("feedback_verify", {"finding": "founded", "facts": "属实"}),
                           ("feedback_rectify", {"measures": "专人跟踪"})):
        rating_ready.complete_task(open_task(rating_ready, loop, form_key), "mz1", data)
    again = doc(client.post("/portal/rate", data={"case_no": case_no, "query_code": CODE}))
    assert again.xpath('//*[@id="follow-up-note"]')
    client.post("/portal/rate", data={"case_no": case_no, "query_code": CODE, "level": "very_satisfied"})
    assert [r["follow_up"] for r in rating_ready.ratings.of_case(case_no)] == [False, True]


def test_the_12345_callback_rates_a_hotline_case_through_the_api(app: Flask, rating_ready: Any,
                                                                bearer: Any) -> None:
    """Only the integration account, only a hotline case, only once it ended, only once."""
    client = app.test_client()
    hotline = bearer("hotline12345")
    case_no = client.post("/api/v1/hotline/work-orders", json=ORDER, headers=hotline).get_json()["case_no"]
    url = f"/api/v1/cases/{case_no}/rating"
    assert client.post(url, json={"level": "satisfied"}, headers=hotline).status_code == 409  # still open
    rating_ready.complete_task(open_task(rating_ready, case_no, "triage"), "center1",
                               {"decision": "ineligible", "reason": "不符合条件"})
    assert client.post(url, json={"level": "satisfied"}, headers=bearer("center1")).status_code == 403
    bad = client.post(url, json={"level": "satisfied", "tags": ["usability"]}, headers=hotline)
    assert bad.status_code == 422 and "tags" in bad.get_json()["errors"]
    done = client.post(url, json={"level": "basically_satisfied", "tags": ["overall", "attitude"],
                                  "comment": "回访满意"}, headers=hotline)
    assert done.status_code == 201 and done.get_json()["level_name"] == "基本满意"
    assert client.post(url, json={"level": "satisfied"}, headers=hotline).status_code == 409
    other = closed_case(rating_ready, query_code=CODE)
    assert client.post(f"/api/v1/cases/{other}/rating", json={"level": "satisfied"},
                       headers=hotline).status_code == 404
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/cases/{case_no}/rating" in spec["paths"]


def test_the_statistics_page_is_scoped(login: Any, rating_ready: Any) -> None:
    """The center sees the village window's rating; 民政局 sees the case it handled; 医保局 none; a designer
    is refused; a bad month is refused with the message."""
    case_no = closed_case(rating_ready)
    rating_ready.ratings.rate_case(case_no, "window", "very_dissatisfied", ["attitude"])
    center = doc(login("center1").get("/feedback/?by=window"))
    assert center.xpath('//table[@id="stats-table"]//tr[@data-key="T01V01"]/th/text()') == ["城东街道东湖社区"]
    assert center.xpath('string(//tr[@data-key="T01V01"]/td[@class="poor"])') == "1"
    assert center.xpath('string(//tr[@data-key="T01V01"]/td[@class="callback-rate"])') == "0.0%"
    assert doc(login("mz1").get("/feedback/?by=department")).xpath('//tr[@data-key="minzheng"]')
    assert doc(login("yb1").get("/feedback/?by=department")).xpath('//tr[@data-key]') == []
    assert login("designer1").get("/feedback/").status_code == 403
    shown = doc(login("center1").get(f"/cases/{case_no}")).xpath('string(//section[@id="case-ratings"])')
    assert "评价：非常不满意" in shown and "服务态度" in shown and "差评整改 LC" in shown
    bad = login("center1").get("/feedback/?by=month&since=2026-13")
    assert bad.status_code == 422 and "月份格式应为 2026-12" in bad.data.decode()


def test_cli_contracts(demo_db: str, rating_ready: Any) -> None:
    """`relief case rate` by Chinese level and tag names; `relief feedback stats --by window`; refusals
    exit 1 with the reason."""
    case_no = closed_case(rating_ready)
    done = relief("case", "rate", case_no, "--level", "不满意", "--channel", "window", "--tag", "服务态度",
                  "--comment", "态度差", database_url=demo_db)
    assert done["level"] == "dissatisfied" and done["rectification_case_no"].startswith("LC")
    again = relief("case", "rate", case_no, "--level", "满意", "--channel", "portal", database_url=demo_db, expect=1)
    assert "整改完成并告知结果后才能追评" in again["message"]
    wrong = relief("case", "rate", case_no, "--level", "很好", "--channel", "portal", database_url=demo_db,
                   expect=1)
    assert "level" in wrong["errors"]
    stats = relief("feedback", "stats", "--by", "window", database_url=demo_db)
    [row] = stats["rows"]
    assert (row["key"], row["total"], row["poor"]) == ("T01V01", 1, 1)
    scoped = relief("feedback", "stats", "--user", "yb1", database_url=demo_db)
    assert scoped["total"]["total"] == 0
    assert "用户不存在" in relief("feedback", "stats", "--user", "nobody", database_url=demo_db, expect=1)["message"]


def test_the_statistics_page_counts_complaints_by_type_and_result(login: Any, engine: Any) -> None:
    """The 投诉 tab: this month's complaint counted under its type, 待办理 and its handler; a bad period refused."""
    complaint_bpmn = RECTIFICATION_BPMN.parent / "complaint.bpmn"
    engine.deploy(complaint_bpmn.read_bytes(), complaint_bpmn.name, "test")
    engine.complaints.file_online({"complaint_type": "attitude", "text": "窗口人员态度差", "about_org": "T01",
                                   "name": "李四", "phone": "13900001111", "anonymous": False})
    page = doc(login("center1").get("/feedback/?by=complaints"))
    assert page.xpath('string(//td[@id="complaint-total"])') == "1"
    assert "城东街道" in page.xpath('string(//table[@id="complaint-table"]/tbody)')
    bad = login("center1").get("/feedback/?by=complaints&period=2026-1")
    assert bad.status_code == 422 and "应为 YYYY-MM" in bad.data.decode()
