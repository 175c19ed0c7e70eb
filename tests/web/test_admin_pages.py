"""系统管理 pages (R-6.1.4) over HTTP: only administrators reach 用户管理, 接口令牌 and 新建机构; the import refuses a
file with a bad row and lists the rows, a good one shows each temporary password once; a reset forces the
change before anything else (pages redirect, the API answers 403); an idle session is signed out with a
Chinese message; supervisors get the inbox's bulk form and its per-task results."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from engine.models import AuditLog, User
from engine.settings import Settings, SettingsError
from tests.support.cases import open_task, start
from tests.support.db import principal, tx
from tests.support.web import DEMO_PASSWORD, make_app

Login = Callable[[str], FlaskClient]
STRONG = "Lotus-Harbor-58-Quill"


@pytest.mark.parametrize("username", ["center1", "clerk_c", "mz1", "analyst1"])
def test_only_administrators_reach_the_administration(login: Login, username: str) -> None:
    """Everyone else gets 403 on the users, tokens and new-organisation pages and sees none of their links."""
    client = login(username)
    for path in ("/admin/users/", "/admin/users/new", "/admin/users/import", "/admin/users/import/template.csv",
                 "/admin/tokens/", "/admin/orgs/new", "/admin/users/mz1/edit"):
        assert client.get(path).status_code == 403, path
    assert client.post("/admin/users/mz1/active", data={"active": "0"}).status_code == 403
    assert client.post("/admin/users/mz1/password").status_code == 403
    home = client.get("/").data.decode()
    assert "/admin/users/" not in home and "/admin/tokens/" not in home


def test_the_user_list_searches_filters_and_shows_the_last_sign_in(login: Login) -> None:
    """admin1 has signed in (a time shown), analyst1 never has; ?role= and ?q= narrow the list."""
    admin = login("admin1")
    page = lxml.html.fromstring(admin.get("/admin/users/?role=department").data.decode())
    assert [r.get("id") for r in page.xpath('//table[@id="users"]/tbody/tr')] == ["user-mz1", "user-yb1"]
    page = lxml.html.fromstring(admin.get("/admin/users/?q=admin").data.decode())
    [row] = page.xpath('//tr[@id="user-admin1"]')
    assert "从未登录" not in row.xpath('.//td[@class="last-login"]')[0].text_content()
    page = lxml.html.fromstring(admin.get("/admin/users/?q=冯雪").data.decode())
    assert page.xpath('//tr[@id="user-analyst1"]/td[@class="last-login"]')[0].text_content() == "从未登录"


def test_an_import_with_a_bad_row_lists_it_and_a_good_one_shows_the_passwords(login: Login, demo_db: str) -> None:
    """The bad file's rows are listed in Chinese (422) and no one is created; the good file's users are listed
    with their temporary passwords; both templates download with the columns."""
    admin = login("admin1")
    header = "username,name,org_code,roles\n"
    bad = admin.post("/admin/users/import", data={"file": (io.BytesIO((header + "n1,新 一,T01,clerk\n"
                                                                       "n2,新 二,T01,astronaut\n").encode()),
                                                           "users.csv")})
    assert bad.status_code == 422
    text = lxml.html.fromstring(bad.data.decode()).xpath('//*[@id="import-errors"]')[0].text_content()
    assert "1 行有误，未导入任何用户" in text and "第 3 行" in text and "未知角色：astronaut" in text
    with tx(demo_db) as session:
        assert session.scalar(select(User).where(User.username == "n1")) is None
    good = admin.post("/admin/users/import", data={"file": (io.BytesIO((header + "n1,新 一,T01,clerk\n").encode()),
                                                            "users.csv")})
    assert good.status_code == 200 and good.headers["Cache-Control"] == "no-store"
    [cells] = [[td.text_content() for td in tr.xpath("td")] for tr in
               lxml.html.fromstring(good.data.decode()).xpath('//table[@id="imported"]/tbody/tr')]
    assert cells[:3] == ["n1", "新 一", "T01"] and len(cells[3]) == 19
    csv_template = admin.get("/admin/users/import/template.csv")
    assert csv_template.data.decode("utf-8-sig").startswith("username,name,org_code,roles,supervisor,can_unmask")
    sheet = load_workbook(io.BytesIO(admin.get("/admin/users/import/template.xlsx").data)).worksheets[0]
    assert [c.value for c in sheet[1]][:4] == ["username", "name", "org_code", "roles"]


def test_a_reset_keeps_the_user_on_the_change_password_page(app: Flask, login: Login) -> None:
    """After the administrator's reset the user's sign-in leads to 修改密码; other pages redirect there and the
    API answers 403 until a good password is saved; then the inbox opens."""
    admin = login("admin1")
    reset = admin.post("/admin/users/yb1/password")
    temporary = lxml.html.fromstring(reset.data.decode()).xpath('//*[@id="temporary-password"]')[0].text_content()
    user = app.test_client()
    signed_in = user.post("/login", data={"username": "yb1", "password": temporary})
    assert signed_in.headers["Location"] == "/account/password"
    assert user.get("/").headers["Location"] == "/account/password"
    assert user.get("/api/v1/tasks").status_code == 403
    refused = user.post("/account/password", data={"current": temporary, "new": "short", "repeat": "short"})
    assert refused.status_code == 422 and "密码至少 12 位" in refused.data.decode()
    saved = user.post("/account/password", data={"current": temporary, "new": STRONG, "repeat": STRONG})
    assert saved.headers["Location"] == "/"
    assert user.get("/").status_code == 200


def test_an_idle_session_is_signed_out_with_a_message(demo_db: str, tmp_path: Path) -> None:
    """A session last seen more than RELIEF_IDLE_TIMEOUT_MINUTES ago goes to sign-in with a Chinese message;
    the sign-out is audited; a recent one stays."""
    app = make_app(demo_db, tmp_path, IDLE_TIMEOUT_MINUTES=5)
    client = app.test_client()
    client.post("/login", data={"username": "mz1", "password": DEMO_PASSWORD})
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - 4 * 60
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - 6 * 60
    expired = client.get("/")
    assert expired.status_code == 302 and expired.headers["Location"].startswith("/login")
    assert "您已闲置超过 5 分钟，已自动退出" in client.get(expired.headers["Location"]).data.decode()
    assert client.get("/").status_code == 302
    with tx(demo_db) as session:
        assert session.scalars(select(AuditLog.actor).where(AuditLog.action == "session_expired")).all() == ["mz1"]


def test_the_idle_timeout_setting_is_checked() -> None:
    """The default is 30 minutes; a value that is not a whole number of minutes in 1–1440 is refused."""
    assert Settings.from_mapping({}).idle_timeout_minutes == 30
    assert Settings.from_mapping({"IDLE_TIMEOUT_MINUTES": "15"}).idle_timeout_minutes == 15
    for bad in ("0", "abc", "2000"):
        with pytest.raises(SettingsError, match="IDLE_TIMEOUT_MINUTES"):
            Settings.from_mapping({"IDLE_TIMEOUT_MINUTES": bad})


def test_a_supervisor_bulk_assigns_from_the_inbox(login: Login, engine: Any) -> None:
    """The supervisor's inbox has the bulk form, a checkbox per task and the select-all script; the bulk answer
    lists each task's outcome; a clerk has no form and gets 403."""
    case_no = start(engine)
    task_id = open_task(engine, case_no, "triage")
    center = login("center1")
    inbox = lxml.html.fromstring(center.get("/").data.decode())
    assert inbox.xpath('//form[@id="bulk-form"]') and inbox.xpath('//script[contains(@src, "inbox-bulk.js")]')
    assert task_id in inbox.xpath('//input[@name="task_ids"]/@value')
    answer = center.post("/inbox/bulk", data={"action": "assign", "assignee": "center1",
                                              "task_ids": [task_id, "missing-task"]})
    assert answer.status_code == 200, (answer.status_code, answer.headers.get("Location"))
    rows = lxml.html.fromstring(answer.data.decode()).xpath('//table[@id="bulk-results"]/tbody/tr')
    assert [r.xpath('string(td[@class="outcome"])') for r in rows] == ["成功", "未成功"]
    assert "共 2 项：成功 1 项，未成功 1 项" in answer.data.decode()
    assert engine.queries.list_tasks(case_no=case_no)[0]["assignee"] == "center1"
    clerk = login("clerk_c")
    assert not lxml.html.fromstring(clerk.get("/").data.decode()).xpath('//form[@id="bulk-form"]')
    assert clerk.post("/inbox/bulk", data={"action": "release", "task_ids": [task_id]}).status_code == 403
    assert principal(engine, "center1").is_supervisor


def test_a_new_organisation_form_keeps_what_was_typed_and_deactivation_hides_the_window(
        login: Login, client: FlaskClient) -> None:
    """A village under the center is refused (422) beside its field with the values kept; saved under a
    township it is listed; deactivated on the list it leaves 办事大厅, and a township with villages is refused."""
    admin = login("admin1")
    typed = {"code": "T01V09", "name": "新村", "kind": "village", "parent": "center", "address": "新村路 9 号",
             "hours": "", "phone": "", "matters_sent": "1"}
    refused = admin.post("/admin/orgs/new", data=typed)
    assert refused.status_code == 422
    page = lxml.html.fromstring(refused.data.decode())
    assert "村(社区)的上级应为乡镇(街道)" in page.xpath('//*[@id="err-parent"]')[0].text_content()
    assert page.xpath('//input[@id="f-address"]/@value') == ["新村路 9 号"]
    saved = admin.post("/admin/orgs/new", data={**typed, "parent": "T01"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#org-T01V09")
    assert "新村路 9 号" in client.get("/portal/hall").data.decode()
    off = admin.post("/admin/orgs/T01V09/active?kind=village", data={"active": "0"})
    assert off.headers["Location"] == "/admin/orgs/?kind=village#org-T01V09"
    assert "新村路 9 号" not in client.get("/portal/hall").data.decode()
    listed = lxml.html.fromstring(admin.get("/admin/orgs/?status=inactive").data.decode())
    assert [r.get("id") for r in listed.xpath('//table[@id="orgs"]/tbody/tr')] == ["org-T01V09"]
    admin.post("/admin/orgs/T01/active", data={"active": "0"})
    assert "请先停用城东街道下仍在用的机构" in admin.get("/admin/orgs/").data.decode()
