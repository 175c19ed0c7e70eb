"""现场评价设备 (/admin/devices): administrators register a window's tablet (the token and its pairing link
shown once, kept out of caches), list and revoke one (CSRF-protected, audited); anyone else gets 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import AuditLog
from tests.support.db import tx
from tests.support.devices import make_device
from tests.support.web import DEMO_PASSWORD, make_app

Login = Callable[[str], FlaskClient]


def html(response: Any) -> Any:
    return lxml.html.fromstring(response.data.decode())


@pytest.mark.parametrize("username", ["clerk_v", "center1", "designer1", "analyst1"])
def test_only_administrators_reach_the_page(login: Login, engine: Any, username: str) -> None:
    """Everyone but an administrator gets 403 on the list, a create and a revoke (nothing changes), and has no link."""
    made = make_device(engine)
    client = login(username)
    assert client.get("/admin/devices/").status_code == 403
    assert client.post("/admin/devices/", data={"name": "x", "window_clerk": "T01V01/clerk_v"}).status_code == 403
    assert client.post(f"/admin/devices/{made['id']}/revoke").status_code == 403
    assert [d["live"] for d in engine.devices.list(None)] == [True]
    assert "/admin/devices/" not in client.get("/").data.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/admin/devices/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_register_a_device_and_see_its_token_once_then_revoke_it(login: Login, engine: Any, demo_db: str) -> None:
    """The form offers each window's clerks; registering shows the token and the pairing link once (no-store);
    the list shows the device without it; 停用 revokes it; both audited as the administrator."""
    admin = login("admin1")
    index = admin.get("/admin/devices/")
    assert "/admin/devices/" in admin.get("/").data.decode()
    options = [o.get("value") for o in html(index).xpath("//select[@id='f-window-clerk']/option")]
    assert options[0] == "" and sorted(options[1:]) == ["T01V01/clerk_v", "center/clerk_c"]  # the demo's clerks
    created = admin.post("/admin/devices/", data={"name": "东湖社区 1 号窗口评价器", "window_clerk": "T01V01/clerk_v"})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    token = html(created).get_element_by_id("device-token").text_content()
    assert token.startswith("RDV-") and html(created).get_element_by_id("pair-url").text_content().endswith(
        f"/tablet/pair?token={token}")
    [device] = engine.devices.list(None)
    listed = admin.get("/admin/devices/").data.decode()
    assert token not in listed and "东湖社区 1 号窗口评价器" in listed
    revoked = admin.post(f"/admin/devices/{device['id']}/revoke", follow_redirects=True)
    assert "已停用评价设备：东湖社区 1 号窗口评价器" in revoked.data.decode()
    row = html(revoked).get_element_by_id(f"device-{device['id']}")
    assert "已停用" in row.xpath("td[@class='state']")[0].text_content() and not row.xpath(".//button")
    again = admin.post(f"/admin/devices/{device['id']}/revoke", follow_redirects=True)
    assert "已于" in again.data.decode()
    assert admin.post("/admin/devices/999/revoke").status_code == 404
    with tx(demo_db) as session:
        actions = [(a.actor, a.action) for a in session.scalars(select(AuditLog).where(
            AuditLog.action.like("rating_device%")).order_by(AuditLog.id))]
    assert actions == [("admin1", "rating_device_created"), ("admin1", "rating_device_revoked")]


def test_a_refused_form_keeps_what_was_chosen_with_the_reason(login: Login, engine: Any) -> None:
    """No name: 422, the reason beside the field, the window and clerk still chosen, nothing registered."""
    refused = login("admin1").post("/admin/devices/", data={"name": " ", "window_clerk": "center/clerk_c"})
    assert refused.status_code == 422
    assert "请填写设备名称" in html(refused).get_element_by_id("err-name").text_content()
    assert html(refused).xpath("//select[@id='f-window-clerk']/option[@selected]/@value")[0] == "center/clerk_c"
    assert engine.devices.list(None) == []


def test_the_forms_need_their_csrf_token(demo_db: str, tmp_path: Path, engine: Any) -> None:
    """With CSRF on, registering and revoking without the form's token are refused (400)."""
    made = make_device(engine)
    client = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True).test_client()
    csrf = html(client.get("/login")).xpath("//input[@name='csrf_token']/@value")[0]
    client.post("/login", data={"username": "admin1", "password": DEMO_PASSWORD, "csrf_token": csrf})
    assert client.post("/admin/devices/", data={"name": "x", "window_clerk": "T01V01/clerk_v"}).status_code == 400
    assert client.post(f"/admin/devices/{made['id']}/revoke").status_code == 400
    assert [d["live"] for d in engine.devices.list(None)] == [True]
