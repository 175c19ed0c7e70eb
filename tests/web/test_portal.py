"""Public portal (R-5.1.2, R-6.2.1): online application with a query code, progress query, rate limit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.cases.intake import query_code_hash
from engine.models import Application
from tests.support.db import tx
from tests.support.web import make_app

FORM = {
    "name": "张三", "id_number": "34052419800101001X", "phone": "13800138000", "township": "T02",
    "village": "T02V01", "address": "青阳镇河口村8组12号", "request": "房屋倒塌，申请临时救助",
    "matters": ["linshi"], "consent": "1",
}


def applications(app: Flask) -> list[Application]:
    """Every stored application."""
    with tx(app.config["DATABASE_URL"]) as session:
        return list(session.scalars(select(Application)))


def apply(client: Any, **changes: Any) -> Any:
    """POST the online application with FORM's values changed by `changes`."""
    return client.post("/portal/apply", data={**FORM, **changes}, content_type="multipart/form-data")


def applied(client: Any) -> tuple[str, str]:
    """Apply online; return (case number, query code) from the confirmation page."""
    response = apply(client)
    html = response.data.decode()
    assert response.status_code == 200, html
    case_no = re.search(r'id="case-no">([^<]+)<', html)
    code = re.search(r'id="query-code" class="code">([^<]+)<', html)
    assert case_no and code
    return case_no.group(1), code.group(1)


def test_online_application_without_login(app: Flask, client: Any) -> None:
    """An anonymous applicant's application starts an online county-level case; only the code's hash is kept."""
    case_no, code = applied(client)
    assert re.fullmatch(r"[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}", code)
    [stored] = applications(app)
    assert (stored.case_no, stored.channel, stored.level) == (case_no, "online", "county")
    assert stored.query_code_hash == query_code_hash(case_no, code) and code not in str(stored.query_code_hash)


def test_consent_is_required(app: Flask, client: Any) -> None:
    """Without consent to personal data processing nothing is registered and the form says why."""
    response = apply(client, consent="")
    html = response.data.decode()
    assert response.status_code == 422 and "请阅读并同意个人信息处理说明" in html and 'value="张三"' in html
    assert applications(app) == []


def test_honeypot_refuses_bots(app: Flask, client: Any) -> None:
    """A filled honeypot field registers nothing."""
    assert apply(client, homepage="http://spam.example").status_code == 400
    assert applications(app) == []


def test_bad_id_is_refused_online(app: Flask, client: Any) -> None:
    """The online form checks the ID number like the window does."""
    response = apply(client, id_number="340524198001010010")
    assert response.status_code == 422 and "身份证号码校验位不正确" in response.data.decode()
    assert applications(app) == []


def test_query_with_right_code_shows_status_and_notices(client: Any, engine: Any) -> None:
    """The right code shows status, current step and notices; never ID number, phone, address or staff."""
    case_no, code = applied(client)
    html = client.post("/portal/query", data={"case_no": case_no, "query_code": code.lower()}).data.decode()
    assert '<strong id="case-status">受理中</strong>' in html and "一门受理·初步研判" in html
    assert "您的救助申请已受理登记" in html
    for secret in ("34052419800101001X", "13800138000", "河口村8组", "center1"):
        assert secret not in html
    [triage] = engine.queries.list_tasks(case_no=case_no)
    engine.complete_task(triage["id"], "center1", {"decision": "eligible", "departments": ["minzheng"]})
    html = client.post("/portal/query", data={"case_no": case_no, "query_code": code}).data.decode()
    assert '<strong id="case-status">办理中</strong>' in html and "受理告知（民政局）" in html
    assert "您的申请已派至民政局办理" in html


def test_wrong_code_and_unknown_case_get_the_same_message(client: Any) -> None:
    """A wrong code and an unknown case number both get the one generic message and nothing else."""
    case_no, code = applied(client)
    wrong = "ABCDEFGH" if code != "ABCDEFGH" else "HGFEDCBA"
    for data in ({"case_no": case_no, "query_code": wrong}, {"case_no": "SJ209901010001", "query_code": code},
                 {"case_no": case_no, "query_code": ""}):
        response = client.post("/portal/query", data=data)
        html = response.data.decode()
        assert response.status_code == 404 and "案件编号或查询码不正确" in html and 'id="progress"' not in html


def test_window_case_cannot_be_queried_online(client: Any, engine: Any) -> None:
    """A case registered at a window has no query code, so no code opens it."""
    from tests.support.cases import APPLICANT

    case_no, _ = engine.start_case(APPLICANT, "window", "village", actor="clerk_v", org="T01V01")
    response = client.post("/portal/query", data={"case_no": case_no, "query_code": ""})
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/portal/apply", "/portal/query"])
def test_fourth_post_in_a_minute_is_rate_limited(demo_db: str, tmp_path: Path, path: str) -> None:
    """With a limit of 3 per minute the 4th POST from one address gets 429; GET stays open."""
    app = make_app(demo_db, tmp_path, RATELIMIT_ENABLED=True, PORTAL_RATE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [client.post(path, data={"case_no": "SJ209901010001", "query_code": "AAAAAAAA"}).status_code
                for _ in range(4)]
    refused = 404 if path.endswith("query") else 422  # wrong code / incomplete form: still counted
    assert statuses == [refused] * 3 + [429]
    assert "操作过于频繁" in client.post(path).data.decode()
    assert client.get(path).status_code == 200
    with tx(demo_db) as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0


def test_the_form_opens_with_the_matter_a_guide_names(client: Any) -> None:
    """`/portal/apply?matter=code` (a service guide's apply link) opens the form with that matter ticked and no
    other; a code the form does not offer ticks nothing."""
    page = lxml.html.fromstring(client.get("/portal/apply?matter=yiliao").data.decode())
    assert page.xpath('//input[@name="matters"][@checked]/@value') == ["yiliao"]
    page = lxml.html.fromstring(client.get("/portal/apply?matter=nothing").data.decode())
    assert page.xpath('//input[@name="matters"]') and page.xpath('//input[@name="matters"][@checked]') == []
