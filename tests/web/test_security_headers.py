"""Security headers on every response, and templates the Content-Security-Policy can allow (issue 15)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from web.security_headers import INLINE_STYLE_ENDPOINTS

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
# Data blocks a script reads (JSON.parse of the element's text); the browser never runs them.
DATA_SCRIPT = re.compile(r"""<script\s+type=["']application/json["']""")
INLINE_HANDLER = re.compile(r"""<[^>]*\son[a-z]+\s*=""", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""<[^>]*\sstyle\s*=""", re.IGNORECASE)


def _get_routes(app: Flask) -> dict[str, str]:
    """One URL per endpoint: every GET rule without arguments (static and the metrics aside)."""
    found: dict[str, str] = {}
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and not rule.arguments and rule.endpoint != "static":
            found.setdefault(rule.endpoint, rule.rule)
    return found


def assert_security_headers(response: object, where: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    policy = headers.get("Content-Security-Policy", "")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives.get("script-src") == "'self'", (where, policy)
    assert directives.get("frame-ancestors") == "'none'", (where, policy)
    assert directives.get("object-src") == "'none'", (where, policy)
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    # the default, or same-origin (stricter) where a view asks for it: the tablet's pairing link carries a token
    assert headers.get("Referrer-Policy") in ("strict-origin-when-cross-origin", "same-origin"), where


@pytest.mark.parametrize("username", [None, "center1", "admin1"])
def test_every_get_page_of_every_blueprint_carries_the_headers(
        app: Flask, login: Callable[[str], FlaskClient], username: str | None) -> None:
    """Each argument-free GET route answers with CSP, X-Frame-Options, nosniff and Referrer-Policy, signed in or not."""
    client = login(username) if username else app.test_client()
    routes = _get_routes(app)
    blueprints = {endpoint.split(".")[0] for endpoint in routes if "." in endpoint}
    assert {"auth", "inbox", "portal", "cases", "design", "api"} <= blueprints
    statuses = set()
    for endpoint, path in sorted(routes.items()):
        response = client.get(path)
        response.get_data()  # a streamed answer (a CSV export) ends its request only once read
        response.close()
        statuses.add(response.status_code)
        assert_security_headers(response, f"{endpoint} {path} → {response.status_code}")
        assert "Strict-Transport-Security" not in response.headers, path
    assert 200 in statuses


def test_errors_files_and_json_carry_the_headers(client: FlaskClient) -> None:
    """A 404 page, a static file and a JSON answer of the API carry the same headers."""
    for path in ("/no-such-page", "/static/app.css", "/api/v1/tasks"):
        response = client.get(path)
        assert_security_headers(response, f"{path} → {response.status_code}")
    assert client.get("/static/app.css").status_code == 200


def test_hsts_only_over_tls(app: Flask) -> None:
    """Strict-Transport-Security is sent on HTTPS requests only; behind the proxy X-Forwarded-Proto decides."""
    client = app.test_client()
    assert "Strict-Transport-Security" not in client.get("/login").headers
    hsts = client.get("/login", base_url="https://relief.example").headers.get("Strict-Transport-Security", "")
    assert hsts.startswith("max-age=") and int(hsts.split("=")[1].split(";")[0]) >= 15552000


def test_hsts_behind_the_proxy(demo_db: str, tmp_path: Path) -> None:
    """With RELIEF_PROXY_FIX the proxy's X-Forwarded-Proto: https makes the request secure, so HSTS is sent."""
    from tests.support.web import make_app

    client = make_app(demo_db, tmp_path, PROXY_FIX=1).test_client()
    assert "Strict-Transport-Security" in client.get("/login", headers={"X-Forwarded-Proto": "https"}).headers
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_only_the_editors_may_use_inline_styles(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    """style-src allows 'unsafe-inline' on the modeler and the DMN editor (CodeMirror's styles) and the dashboard's
    two pages (ECharts' tooltips) only; never scripts."""
    assert INLINE_STYLE_ENDPOINTS <= set(app.view_functions)
    client = login("designer1")
    modeler = client.get("/design/relief_linkage/modeler")
    assert modeler.status_code == 200
    assert "style-src 'self' 'unsafe-inline'" in modeler.headers["Content-Security-Policy"]
    assert "script-src 'self';" in modeler.headers["Content-Security-Policy"]
    inbox = client.get("/")
    assert "style-src 'self';" in inbox.headers["Content-Security-Policy"]


def test_templates_hold_no_inline_script_handler_or_style() -> None:
    """No template has an inline <script> (JSON data blocks aside), an on* handler attribute or a style= attribute."""
    problems = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        name = template.relative_to(TEMPLATES)
        for match in re.finditer(r"<script\b[^>]*>", text):
            tag = match.group(0)
            if "src=" not in tag and not DATA_SCRIPT.match(tag):
                problems.append(f"{name}: inline {tag}")
        problems += [f"{name}: handler {m.group(0)[:60]}" for m in INLINE_HANDLER.finditer(text)]
        problems += [f"{name}: {m.group(0)[:60]}" for m in STYLE_ATTRIBUTE.finditer(text)]
        problems += [f"{name}: <style> element" for _ in re.finditer(r"<style\b", text)]
    assert len(list(TEMPLATES.rglob("*.html"))) > 50
    assert problems == []


def test_rendered_pages_hold_no_inline_script(client: FlaskClient, login: Callable[[str], FlaskClient]) -> None:
    """Pages as rendered (macros expanded) run no inline script: every <script> has a src or is JSON data."""
    pages = [(client, "/portal/apply"), (client, "/portal/"), (login("clerk_v"), "/intake/new"),
             (login("designer1"), "/design/relief_linkage/modeler")]
    for who, path in pages:
        response = who.get(path)
        assert response.status_code == 200, path
        document = lxml.html.fromstring(response.data)
        for script in document.xpath("//script"):
            assert script.get("src") or script.get("type") == "application/json", (path, lxml.html.tostring(script))
        assert document.xpath("//*[@style]") == [], path
