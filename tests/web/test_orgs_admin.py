"""机构窗口 (/admin/orgs): administrators list the organisations with their windows' details, 20 a page, and edit
an address, opening hours and phone (CSRF-protected); a refused form keeps what was typed; anyone else gets 403."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.access.orgs import upsert_organisation
from engine.models import AuditLog, Organisation
from tests.support.db import tx
from tests.support.web import DEMO_PASSWORD, make_app

Login = Callable[[str], FlaskClient]


def html_of(client: FlaskClient, path: str, status: int = 200, **post: str) -> Any:
    """The parsed answer to GET `path` (POST with `post`), insisting on its status."""
    response = client.post(path, data=post) if post else client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return lxml.html.fromstring(response.data.decode())


def stored(database_url: str, code: str) -> tuple[str, str, str]:
    """(address, hours, phone) of an organisation in the database."""
    with tx(database_url) as session:
        org = session.get_one(Organisation, code)
        return org.address, org.hours, org.phone


@pytest.mark.parametrize("username", ["center1", "clerk_c", "designer1", "mz1", "analyst1"])
def test_only_administrators_reach_the_pages(login: Login, demo_db: str, username: str) -> None:
    """Everyone but an administrator gets 403 on the list, the form and a save (nothing is saved), and has no
    机构窗口 link."""
    client = login(username)
    before = stored(demo_db, "T01")
    assert client.get("/admin/orgs/").status_code == 403
    assert client.get("/admin/orgs/T01/edit").status_code == 403
    assert client.post("/admin/orgs/T01/edit", data={"address": "x", "hours": "", "phone": ""}).status_code == 403
    assert stored(demo_db, "T01") == before
    assert "/admin/orgs/" not in client.get("/").data.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    """Without signing in the pages lead to the sign-in page."""
    response = client.get("/admin/orgs/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_list_shows_every_organisation_with_its_window_and_pages(login: Login, demo_db: str) -> None:
    """The nav links to it; code, name, kind, parent and window details per row, 20 a page (21 organisations:
    two pages), filtered by kind; an empty field says 未填写."""
    with tx(demo_db) as session:
        for n in range(3):
            upsert_organisation(session, f"T03V0{n}", f"新村{n}", "village", "T01")
    admin = login("admin1")
    home = lxml.html.fromstring(admin.get("/").data.decode())
    assert home.xpath('//nav[@class="mainnav"]/a[normalize-space()="机构窗口"]/@href') == ["/admin/orgs/"]
    first = html_of(admin, "/admin/orgs/")
    rows = first.xpath('//table[@id="orgs"]/tbody/tr')
    assert len(rows) == 20 and rows[0].get("id") == "org-center"
    center = [" ".join(td.text_content().split()) for td in rows[0].xpath("td")]
    assert center[:4] == ["center", "示范县社会救助中心", "社会救助中心", ""]
    assert center[4].startswith("示范县人民路") and center[6] == "0512-60000000"
    assert "第 1 / 2 页" in first.text_content()
    second = html_of(admin, "/admin/orgs/?page=2")
    assert [r.get("id") for r in second.xpath('//table[@id="orgs"]/tbody/tr')] == ["org-T03V02"]
    villages = html_of(admin, "/admin/orgs/?kind=village")
    new = villages.xpath('//tr[@id="org-T03V00"]/td')
    assert new[3].text_content() == "城东街道" and {td.text_content() for td in new[4:7]} == {"未填写"}
    assert villages.xpath('//tr[@id="org-T03V00"]//a/@href') == ["/admin/orgs/T03V00/edit?kind=village"]


def test_an_edit_is_saved_shown_on_the_portal_and_audited(login: Login, client: FlaskClient, demo_db: str) -> None:
    """The form shows the stored values; saving new ones goes back to the list (its kind) with a note, the portal's
    办事大厅 shows them at once, and the audit log has the change old → new."""
    admin = login("admin1")
    form = html_of(admin, "/admin/orgs/T02V01/edit?kind=village")
    assert form.xpath('//input[@id="f-phone"]/@value') == ["0512-60002201"]
    old_address = form.xpath('//input[@id="f-address"]/@value')[0]
    saved = admin.post("/admin/orgs/T02V01/edit?kind=village", data={
        "address": old_address, "hours": "周二、周四 9:00-11:30", "phone": "0512-6000 2299"})
    assert saved.status_code == 302 and saved.headers["Location"] == "/admin/orgs/?kind=village#org-T02V01"
    assert "已保存青阳镇河口村的窗口信息" in admin.get(saved.headers["Location"]).data.decode()
    assert stored(demo_db, "T02V01") == (old_address, "周二、周四 9:00-11:30", "0512-6000 2299")
    hall = client.get("/portal/hall").data.decode()
    assert '<a href="tel:0512600002299">0512-6000 2299</a>' not in hall  # the link dials the digits only
    assert '<a href="tel:051260002299">0512-6000 2299</a>' in hall and "周二、周四 9:00-11:30" in hall
    with tx(demo_db) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "org_changed")).one()
    assert (entry.actor, entry.target) == ("admin1", "T02V01")
    assert entry.details["changes"]["phone"] == ["0512-60002201", "0512-6000 2299"]
    unchanged = admin.post("/admin/orgs/T02V01/edit", data={
        "address": old_address, "hours": "周二、周四 9:00-11:30", "phone": "0512-6000 2299"})
    assert "窗口信息没有变化" in admin.get(unchanged.headers["Location"]).data.decode()


def test_a_bad_phone_is_refused_with_the_reason_and_everything_typed_kept(login: Login, demo_db: str) -> None:
    """A phone with letters: 422, the reason beside the phone, the typed address, hours and phone still in the
    form, nothing saved."""
    admin = login("admin1")
    before = stored(demo_db, "T01")
    typed = {"address": "示范县城东街道新华路 1 号", "hours": "周一至周五 9:00-17:00\n周六 9:00-12:00",
             "phone": "0512-6OO0 1100"}
    page = html_of(admin, "/admin/orgs/T01/edit", 422, **typed)
    assert "只能由数字、短横线（-）和空格组成" in page.xpath('//*[@id="err-phone"]')[0].text_content()
    assert page.xpath('//input[@id="f-phone"]/@aria-describedby') == ["err-phone"]
    assert page.xpath('//input[@id="f-address"]/@value') == [typed["address"]]
    assert page.xpath('//textarea[@id="f-hours"]')[0].text_content() == typed["hours"]
    assert page.xpath('//input[@id="f-phone"]/@value') == [typed["phone"]]
    assert not page.xpath('//*[@id="err-address"]') and "城东街道的信息有误，未保存" in page.text_content()
    assert stored(demo_db, "T01") == before


def test_an_unknown_organisation_is_404(login: Login) -> None:
    """A code nobody has answers 404 to the form and to a save."""
    admin = login("admin1")
    assert admin.get("/admin/orgs/T09/edit").status_code == 404
    assert admin.post("/admin/orgs/T09/edit", data={"phone": "12345"}).status_code == 404


def test_a_save_needs_the_forms_csrf_token(demo_db: str, tmp_path: Path) -> None:
    """With CSRF protection on (as served) a save without the form's token is refused (400), with it accepted."""
    app = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True)
    admin = app.test_client()
    login_token = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/login").data.decode())
    assert login_token
    admin.post("/login", data={"username": "admin1", "password": DEMO_PASSWORD, "csrf_token": login_token.group(1)})
    values = {"address": "示范县人民路 90 号", "hours": "", "phone": "12345"}
    assert admin.post("/admin/orgs/center/edit", data=values).status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/admin/orgs/center/edit").data.decode())
    assert token
    assert admin.post("/admin/orgs/center/edit", data={**values, "csrf_token": token.group(1)}).status_code == 302
    assert stored(demo_db, "center") == ("示范县人民路 90 号", "", "12345")
