"""现场评价 (/tablet): a window tablet pairs once with its device token (a bad one refused with the reason) and
is known by its own signed cookie (HttpOnly, SameSite=Strict), no staff session; it shows its window, clerk
and the visit on offer, takes one rating of it (a second refused in Chinese), and a revoked device is
refused at once. The forms need their CSRF token."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import Rating
from tests.support.db import tx
from tests.support.devices import make_device, register_visit
from tests.support.web import make_app

COOKIE = "relief_tablet"
FLASH_ERROR = "//div[@class='flash error']"


def page(response: Any) -> Any:
    return lxml.html.fromstring(response.data.decode())


def text_of(response: Any, xpath: str) -> str:
    """The text of the elements at `xpath`, white space folded."""
    return " ".join(" ".join(e.text_content().split()) for e in page(response).xpath(xpath))


def tablet_cookie(response: Any) -> str | None:
    """The Set-Cookie of the device's cookie in `response`, if any (the Flask session has its own)."""
    return next((c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")), None)


@pytest.fixture
def device(engine: Any) -> dict[str, Any]:
    """A device of 东湖社区's window for its clerk clerk_v (with its token)."""
    return make_device(engine)


@pytest.fixture
def tablet(app: Flask, device: dict[str, Any]) -> FlaskClient:
    """A client paired as the device."""
    client = app.test_client()
    assert client.post("/tablet/pair", data={"token": device["token"]}).status_code == 302
    return client


def test_pairing_sets_a_strict_http_only_cookie_and_no_staff_session(app: Flask, device: dict[str, Any]) -> None:
    """Unpaired, the screen leads to pairing; the link's token fills the field; 配对 remembers the device in
    its own cookie under /tablet/ (HttpOnly, SameSite=Strict, a year), and signs no one in."""
    client = app.test_client()
    response = client.get("/tablet/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/tablet/pair")
    prefilled = client.get(f"/tablet/pair?token={device['token']}")
    assert page(prefilled).get_element_by_id("f-token").get("value") == device["token"]
    assert prefilled.headers["Cache-Control"] == "no-store" and prefilled.headers["Referrer-Policy"] == "same-origin"
    paired = client.post("/tablet/pair", data={"token": device["token"].lower()})
    assert paired.status_code == 302 and paired.headers["Location"].endswith("/tablet/")
    cookie = tablet_cookie(paired) or ""
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/tablet/" in cookie and re.search(r"Max-Age=31536000\b", cookie)
    with client.session_transaction() as session:
        assert "_user_id" not in session
    staff = client.get("/")  # the staff's inbox still wants a sign-in
    assert staff.status_code == 302 and "/login" in staff.headers["Location"]
    screen = client.get("/tablet/")
    assert screen.status_code == 200
    assert text_of(screen, "//*[@id='window-name']") == "城东街道东湖社区"
    assert "东湖社区窗口 王芳" in text_of(screen, "//*[@id='clerk-name']")


def test_a_bad_token_is_refused_with_the_reason(app: Flask, device: dict[str, Any]) -> None:
    """A wrong token: 403, the reason on the page, no cookie; a forged cookie is no pairing either."""
    client = app.test_client()
    refused = client.post("/tablet/pair", data={"token": "RDV-AAAA-BBBB-CCCC-DDDD-EEEE-FFFF"})
    assert refused.status_code == 403 and tablet_cookie(refused) is None
    assert "设备令牌不正确或该设备已停用" in text_of(refused, "//*[@id='pair-error']")
    client.set_cookie(COOKIE, json.dumps({"device": device["id"]}), path="/tablet/")  # unsigned
    assert client.get("/tablet/").headers["Location"].endswith("/tablet/pair")


def test_the_visit_is_rated_once(tablet: FlaskClient, engine: Any, demo_db: str, device: dict[str, Any]) -> None:
    """Waiting until the clerk registers a visit; then five levels and the four window tags; the rating is
    stored by device:<id> and thanked for; the screen waits again; a second rating is refused in Chinese."""
    waiting = tablet.get("/tablet/")
    assert page(waiting).xpath("//*[@id='waiting']") and page(waiting).get_element_by_id("main").get("data-visit") == ""
    assert tablet.get("/tablet/waiting").get_json() == {"visit": None}
    visit = register_visit(engine, name="王小五")
    assert tablet.get("/tablet/waiting").get_json() == {"visit": visit}
    form = tablet.get("/tablet/")
    assert "王**" in text_of(form, "//*[@id='visit']") and "临时救助" in text_of(form, "//*[@id='visit']")
    assert [e.text_content() for e in page(form).xpath("//fieldset[@class='levels']//label/span")] == \
        ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert [e.text_content() for e in page(form).xpath("//fieldset[@class='tags']//label/span")] == \
        ["整体满意度", "服务效率", "服务水平", "服务态度"]
    rating = {"visit": str(visit), "level": "very_satisfied", "tags": ["overall", "attitude"], "comment": "很耐心"}
    done = tablet.post("/tablet/rate", data=rating)
    assert done.status_code == 302 and done.headers["Location"].endswith("/tablet/thanks")
    assert "谢谢您的评价" in tablet.get("/tablet/thanks").data.decode()
    assert page(tablet.get("/tablet/")).xpath("//*[@id='waiting']")
    again = tablet.post("/tablet/rate", data={**rating, "level": "satisfied"}, follow_redirects=True)
    assert "本次服务已评价，每次只能评价一次" in text_of(again, FLASH_ERROR)
    with tx(demo_db) as session:
        [stored] = session.scalars(select(Rating)).all()
    assert (stored.consultation_id, stored.level, stored.tags, stored.rated_by, stored.channel) == \
        (visit, "very_satisfied", ["overall", "attitude"], f"device:{device['id']}", "window")


def test_a_rating_without_a_level_or_of_another_visit_is_refused(tablet: FlaskClient, engine: Any,
                                                                demo_db: str) -> None:
    """No level: 请选择评价等级; a visit of another clerk: not this device's; nothing is stored."""
    visit = register_visit(engine)
    elsewhere = register_visit(engine, "clerk_c")
    no_level = tablet.post("/tablet/rate", data={"visit": str(visit)}, follow_redirects=True)
    assert "请选择评价等级" in text_of(no_level, FLASH_ERROR) and page(no_level).xpath("//form[@id='rating-form']")
    other = tablet.post("/tablet/rate", data={"visit": str(elsewhere), "level": "satisfied"}, follow_redirects=True)
    assert "本设备没有这次服务的登记" in text_of(other, FLASH_ERROR)
    with tx(demo_db) as session:
        assert session.scalars(select(Rating)).all() == []


def test_a_revoked_device_is_refused_at_once(tablet: FlaskClient, engine: Any, demo_db: str,
                                            device: dict[str, Any]) -> None:
    """Once revoked, the screen says so (403) and forgets the cookie, the poll answers 403, a rating is not kept."""
    visit = register_visit(engine)
    engine.devices.revoke(None, device["id"])
    assert tablet.get("/tablet/waiting").status_code == 403
    refused = tablet.post("/tablet/rate", data={"visit": str(visit), "level": "satisfied"})
    assert refused.headers["Location"].endswith("/tablet/")
    screen = tablet.get("/tablet/")
    assert screen.status_code == 403 and screen.data.decode().count("该评价设备已停用") == 1
    assert (tablet_cookie(screen) or "").startswith(f"{COOKIE}=;")
    with tx(demo_db) as session:
        assert session.scalars(select(Rating)).all() == []


def test_the_tablet_forms_need_their_csrf_token(demo_db: str, tmp_path: Path, engine: Any) -> None:
    """With CSRF on, pairing and rating without the form's token are refused (400); with it they go through."""
    client = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True).test_client()
    made = make_device(engine)
    assert client.post("/tablet/pair", data={"token": made["token"]}).status_code == 400
    csrf = page(client.get("/tablet/pair")).xpath("//input[@name='csrf_token']/@value")[0]
    assert client.post("/tablet/pair", data={"token": made["token"], "csrf_token": csrf}).status_code == 302
    visit = register_visit(engine)
    assert client.post("/tablet/rate", data={"visit": str(visit), "level": "satisfied"}).status_code == 400
    form = page(client.get("/tablet/")).xpath("//form[@id='rating-form']//input[@name='csrf_token']/@value")[0]
    done = client.post("/tablet/rate", data={"visit": str(visit), "level": "satisfied", "csrf_token": form})
    assert done.headers["Location"].endswith("/tablet/thanks")
