"""Sign-in, lockout, sessions and CSRF."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask

from tests.support.web import DEMO_PASSWORD, make_app


def test_login_page_and_successful_sign_in(client: Any) -> None:
    """The sign-in page renders in Chinese; correct credentials lead to the inbox."""
    page = client.get("/login")
    assert page.status_code == 200 and "工作人员登录" in page.data.decode()
    response = client.post("/login", data={"username": "center1", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "待办任务" in client.get("/").data.decode()


def test_wrong_password_is_refused_and_inbox_needs_login(client: Any) -> None:
    """A wrong password shows a Chinese error; the inbox redirects anonymous users to sign in."""
    response = client.post("/login", data={"username": "center1", "password": "wrong-password1"})
    assert response.status_code == 401 and "用户名或密码错误" in response.data.decode()
    assert client.get("/").status_code == 302


def test_lockout_after_repeated_failures(client: Any) -> None:
    """Five failures lock the account; even the right password is then refused."""
    for _ in range(5):
        client.post("/login", data={"username": "mz1", "password": "nope-nope-1"})
    response = client.post("/login", data={"username": "mz1", "password": DEMO_PASSWORD})
    assert response.status_code == 401 and "锁定" in response.data.decode()


def test_open_redirect_is_not_followed(client: Any) -> None:
    """A `next` parameter pointing off-site is ignored after sign-in."""
    response = client.post("/login?next=https://evil.example/x",
                           data={"username": "center1", "password": DEMO_PASSWORD})
    assert response.headers["Location"] == "/"


def test_csrf_is_required_on_forms(demo_db: str, tmp_path: Path) -> None:
    """With CSRF on, a sign-in POST without the token is refused; with the page's token it works."""
    app: Flask = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    refused = client.post("/login", data={"username": "center1", "password": DEMO_PASSWORD})
    assert refused.status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").data.decode())
    assert token
    accepted = client.post("/login", data={"username": "center1", "password": DEMO_PASSWORD,
                                           "csrf_token": token.group(1)})
    assert accepted.status_code == 302


def test_logout_ends_the_session(login: Any) -> None:
    """Signing out returns to the sign-in page; the inbox then needs a new sign-in."""
    client = login("center1")
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_language_switch_is_its_own_form_after_the_sign_in_form(client: Any) -> None:
    """The sign-in page's first form is the sign-in form; the language button submits a form of its own."""
    html = client.get("/login").data.decode()
    forms = html.split("<form")[1:]
    assert 'name="username"' in forms[0] and "set_language" not in forms[0] and "/lang/" not in forms[0]
    assert 'form="language-form"' in html and 'id="language-form"' in forms[-1]
