"""The portal's content pages: 政策法规 and 中心简介 for the public, /admin/content for administrators."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.content import HOSTILE_MARKDOWN, PDF, PNG, about_values, audit_actions, policy_values
from tests.support.db import principal
from tests.support.web import DEMO_PASSWORD, make_app


@pytest.fixture
def admin(login: Callable[[str], FlaskClient]) -> FlaskClient:
    """A client signed in as the demo administrator."""
    return login("admin1")


def html(response: Any, status: int = 200) -> Any:
    """The parsed page of a response that must have `status`."""
    assert response.status_code == status, response.data.decode()[:2000]
    return lxml.html.fromstring(response.data.decode())


def publish(client: FlaskClient, pdf: tuple[bytes, str] | None = None, **changes: Any) -> int:
    """Create a policy document through the form (with a PDF as (bytes, name)); return its id."""
    data: dict[str, Any] = policy_values(**changes)
    if pdf is not None:
        data["pdf"] = (io.BytesIO(pdf[0]), pdf[1])
    response = client.post("/admin/content/policies/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.data.decode()[:2000]
    found = re.search(r"/admin/content/policies/(\d+)$", response.headers["Location"])
    assert found
    return int(found.group(1))


ADMIN_PAGES = [("GET", "/admin/content"), ("GET", "/admin/content/policies/new"), ("POST", "/admin/content/pages/new"),
               ("GET", "/admin/content/policies/{id}"), ("POST", "/admin/content/policies/{id}"),
               ("POST", "/admin/content/policies/{id}/status"), ("GET", "/admin/content/policies/{id}/revisions"),
               ("POST", "/admin/content/policies/{id}/restore"), ("GET", "/admin/content/policies/{id}/pdf")]


@pytest.mark.parametrize("username", ["center1", "designer1", "mz1", "clerk_c", "analyst1"])
def test_only_administrators_reach_the_content_pages(login: Callable[[str], FlaskClient], admin: FlaskClient,
                                                    username: str) -> None:
    """Every /admin/content page and action answers 403 to staff without the admin role, and they get no
    门户内容 link; the document stays as it was."""
    policy_id = publish(admin, (PDF, "办法.pdf"))
    staff = login(username)
    for method, path in ADMIN_PAGES:
        response = staff.open(path.format(id=policy_id), method=method,
                              data={"title": "改", "status": "withdrawn", "reason": "x", "revision": "1"})
        assert response.status_code == 403, (method, path)
    assert "门户内容" not in staff.get("/").data.decode()
    assert admin.get(f"/portal/policies/{policy_id}").status_code == 200
    assert "/admin/content" in admin.get("/").data.decode()


def test_signed_out_visitors_are_sent_to_sign_in_for_the_admin_pages(client: FlaskClient) -> None:
    """Without a session /admin/content redirects to the sign-in page."""
    response = client.get("/admin/content")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_published_policy_is_on_the_portal_without_sign_in(admin: FlaskClient, client: FlaskClient) -> None:
    """The portal's nav links 政策法规 and 中心简介; the list, the document and its PDF (a download of type
    application/pdf) need no sign-in."""
    policy_id = publish(admin, (PDF, "最低生活保障实施办法.pdf"))
    nav = html(client.get("/portal/query")).xpath("//nav[@class='mainnav']/a")
    assert {a.text: a.get("href") for a in nav}.items() >= {"政策法规": "/portal/policies",
                                                           "中心简介": "/portal/about"}.items()
    listed = html(client.get("/portal/policies"))
    [entry] = listed.xpath("//ol[@id='policies']/li")
    assert entry.get("data-policy-id") == str(policy_id) and "示范县最低生活保障实施办法" in entry.text_content()
    assert "示政发〔2026〕12号" in entry.text_content() and "2026-03-01" in entry.text_content()
    document = html(client.get(f"/portal/policies/{policy_id}"))
    assert document.xpath("//div[@id='policy-text']//h2")[0].text == "第一条"
    assert "示范县人民政府" in document.xpath("//dl[@id='policy-facts']")[0].text_content()
    download = client.get(document.xpath("//a[@id='policy-pdf']/@href")[0])
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf" and download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E6%9C%80" in download.headers["Content-Disposition"]


def test_withdrawn_documents_never_show_on_the_portal(admin: FlaskClient, client: FlaskClient, app: Flask) -> None:
    """A withdrawn document leaves the list, and its page and PDF answer 404; the administrators still see it."""
    kept = publish(admin, title="仍然有效的办法")
    withdrawn = publish(admin, (PDF, "旧办法.pdf"), title="已废止的办法")
    refused = admin.post(f"/admin/content/policies/{withdrawn}/status", data={"status": "withdrawn", "reason": ""})
    assert "请填写修改原因" in html(refused, 422).xpath("//section[@id='status-section']")[0].text_content()
    response = admin.post(f"/admin/content/policies/{withdrawn}/status",
                          data={"status": "withdrawn", "reason": "已被新办法替代"})
    assert response.status_code == 302
    page = client.get("/portal/policies").data.decode()
    assert "仍然有效的办法" in page and "已废止的办法" not in page
    assert client.get(f"/portal/policies/{withdrawn}").status_code == 404
    assert client.get(f"/portal/policies/{withdrawn}/pdf").status_code == 404
    assert client.get(f"/portal/policies/{kept}").status_code == 200
    overview = html(admin.get("/admin/content")).xpath(f"//tr[@data-policy-id='{withdrawn}']")[0]
    assert "已撤回" in overview.text_content()
    assert admin.get(f"/admin/content/policies/{withdrawn}/pdf").data == PDF


def test_the_portal_lists_twenty_documents_a_page_newest_first(client: FlaskClient, engine: Any) -> None:
    """25 documents: page 1 shows the 20 newest by date, page 2 the 5 oldest, with the pager."""
    admin = principal(engine, "admin1")
    for day in range(1, 26):
        engine.content.create(admin, "policy", policy_values(title=f"文件{day:02d}", issued_on=f"2026-01-{day:02d}"))
    first = html(client.get("/portal/policies"))
    titles = [a.text for a in first.xpath("//a[@class='policy-title']")]
    assert len(titles) == 20 and titles[0] == "文件25" and titles[-1] == "文件06"
    assert "第 1 / 2 页" in first.xpath("//div[@class='pager']")[0].text_content()
    second = html(client.get("/portal/policies?page=2"))
    assert [a.text for a in second.xpath("//a[@class='policy-title']")] == ["文件05", "文件04", "文件03", "文件02",
                                                                          "文件01"]


def test_an_edit_needs_a_reason_and_then_shows_its_diff(admin: FlaskClient, app: Flask) -> None:
    """Saving without a reason is refused on the form with what was typed kept; with one it becomes revision 2
    and the revision page shows the changed title and text lines."""
    policy_id = publish(admin)
    form = html(admin.get(f"/admin/content/policies/{policy_id}"))
    assert form.xpath("//input[@name='based_on']/@value") == ["1"]
    assert form.xpath("//input[@name='title']/@value") == ["示范县最低生活保障实施办法"]
    changed = policy_values(title="示范县最低生活保障办法（修订）", body="## 第一条\n\n为保障困难群众基本生活。",
                            based_on="1")
    refused = html(admin.post(f"/admin/content/policies/{policy_id}", data={**changed, "reason": " "}), 422)
    assert refused.xpath("//span[@id='err-reason']")[0].text == "请填写修改原因（记入修订记录）"
    assert refused.xpath("//input[@name='title']/@value") == ["示范县最低生活保障办法（修订）"]
    saved = admin.post(f"/admin/content/policies/{policy_id}", data={**changed, "reason": "标题加“修订”"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/policies/{policy_id}/revisions")
    history = html(admin.get(saved.headers["Location"]))
    assert history.xpath("//section[@id='diff']/@data-from") == ["1"]
    title = history.xpath("//tr[@data-field='title']")[0]
    assert title.xpath("td[@class='diff-old']")[0].text == "示范县最低生活保障实施办法"
    assert title.xpath("td[@class='diff-new']")[0].text == "示范县最低生活保障办法（修订）"
    assert "+ 为保障困难群众基本生活。" in [s.text for s in history.xpath("//pre[@id='body-diff']/span")]
    assert "标题加“修订”" in history.xpath("//tr[@data-revision='2']")[0].text_content()
    assert [a for a, _t in audit_actions(app.config["DATABASE_URL"])] == ["content_created", "content_edited"]


def test_restoring_the_first_revision_from_the_revision_page(admin: FlaskClient) -> None:
    """The restore form of revision 1 needs a reason; then revision 3 holds revision 1's content again."""
    policy_id = publish(admin)
    admin.post(f"/admin/content/policies/{policy_id}", data={**policy_values(title="错误的标题"), "reason": "改标题"})
    refused = html(admin.post(f"/admin/content/policies/{policy_id}/restore", data={"revision": "1", "reason": ""}),
                   422)
    assert "请填写修改原因" in refused.xpath("//div[@class='form-errors']")[0].text_content()
    restored = admin.post(f"/admin/content/policies/{policy_id}/restore", data={"revision": "1", "reason": "改错了"})
    assert restored.status_code == 302
    history = html(admin.get(restored.headers["Location"]))
    assert "恢复旧版（自第 1 版）" in history.xpath("//tr[@data-revision='3']")[0].text_content()
    assert html(admin.get(f"/portal/policies/{policy_id}")).xpath("//h1")[0].text == "示范县最低生活保障实施办法"
    same = html(admin.get(f"/admin/content/policies/{policy_id}/revisions?from=1&to=3"))
    assert same.xpath("//p[@id='no-changes']")


def test_a_file_that_is_not_a_pdf_is_refused_on_the_form(admin: FlaskClient) -> None:
    """A PNG renamed .pdf is refused next to the file field, and nothing is published."""
    response = admin.post("/admin/content/policies/new", content_type="multipart/form-data",
                          data={**policy_values(body=""), "pdf": (io.BytesIO(PNG), "扫描件.pdf")})
    assert html(response, 422).xpath("//span[@id='err-pdf']")[0].text == "文件“扫描件.pdf”不是 PDF 文件（只接受 PDF）"
    assert "还没有政策文件" in admin.get("/admin/content").data.decode()


def test_script_in_the_markdown_never_reaches_the_portal_page(admin: FlaskClient, client: FlaskClient) -> None:
    """<script>, onerror=, javascript: links and a raw <iframe> typed into the Markdown are not on the
    published page; the formatting around them is."""
    policy_id = publish(admin, body=HOSTILE_MARKDOWN)
    page = client.get(f"/portal/policies/{policy_id}").data.decode()
    doc = lxml.html.fromstring(page)
    [text] = doc.xpath("//div[@id='policy-text']")
    assert text.xpath(".//script | .//iframe | .//img | .//*[@onerror or @onclick]") == []
    assert [h for h in text.xpath(".//@href") if "javascript" in h.lower()] == []
    source = lxml.html.tostring(text, encoding="unicode")
    for dangerous in ("<script", "onerror", "onclick", "<iframe", "alert('script')"):
        assert dangerous not in source
    assert doc.xpath("//script[not(@src)]") == [] and text.xpath(".//strong")[0].text == "本县户籍"


def test_the_about_page_is_written_by_an_administrator(admin: FlaskClient, client: FlaskClient) -> None:
    """Before it exists /portal/about says 中心简介 is not published (404); once created as the page `about`
    it shows to everyone, other pages under /portal/pages/<slug>; withdrawn, it is gone again."""
    missing = html(client.get("/portal/about"), 404)
    assert missing.xpath("//p[@id='not-published']")
    created = admin.post("/admin/content/pages/new", data=about_values())
    assert created.status_code == 302
    shown = html(client.get("/portal/about"))
    assert shown.xpath("//h1")[0].text == "示范县社会救助中心简介"
    assert "示范县人民路 1 号" in shown.xpath("//div[@id='page-text']")[0].text_content()
    admin.post("/admin/content/pages/new", data=about_values(slug="guide-dibao", title="低保办事指南"))
    assert html(client.get("/portal/pages/guide-dibao")).xpath("//h1")[0].text == "低保办事指南"
    taken = html(admin.post("/admin/content/pages/new", data=about_values()), 422)
    assert "已被页面" in taken.xpath("//span[@id='err-slug']")[0].text
    page_id = created.headers["Location"].rsplit("/", 1)[-1]
    admin.post(f"/admin/content/pages/{page_id}/status", data={"status": "withdrawn", "reason": "改版"})
    assert client.get("/portal/about").status_code == 404


def test_content_forms_need_their_csrf_token(demo_db: str, tmp_path: Path) -> None:
    """With CSRF on, creating a document without the form's token is refused (400); with it, it is published."""
    app = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").data.decode())
    assert token
    client.post("/login", data={"username": "admin1", "password": DEMO_PASSWORD, "csrf_token": token.group(1)})
    assert client.post("/admin/content/policies/new", data=policy_values()).status_code == 400
    form = client.get("/admin/content/policies/new").data.decode()
    page_token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert page_token
    accepted = client.post("/admin/content/policies/new", data={**policy_values(), "csrf_token": page_token.group(1)})
    assert accepted.status_code == 302
    assert "示范县最低生活保障实施办法" in client.get("/portal/policies").data.decode()
