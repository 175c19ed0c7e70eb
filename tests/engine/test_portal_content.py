"""The portal's content (政策法规, 中心简介): revisions kept whole, diff, restore, withdraw, checks, sanitising."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from engine.cases.materials import Upload
from engine.content.rendering import render_markdown
from engine.errors import Forbidden, InvalidData, NotFound
from tests.support.content import HOSTILE_MARKDOWN, PDF, PNG, about_values, audit_actions, policy_values
from tests.support.db import engine_for, principal


@pytest.fixture
def engine(county_db: str, tmp_path: Path) -> Any:
    """An engine on the demo county, its uploads and PDFs under the test's directory, PDFs up to 1 MB."""
    return engine_for(county_db, UPLOAD_DIR=str(tmp_path / "uploads"), CONTENT_PDF_MAX_MB="1")


@pytest.fixture
def admin(engine: Any) -> Any:
    """The demo administrator."""
    return principal(engine, "admin1")


def refusal(call: Any, *args: Any, **kwargs: Any) -> dict[str, list[str]]:
    """The field errors of a call that must be refused with InvalidData."""
    with pytest.raises(InvalidData) as refused:
        call(*args, **kwargs)
    return refused.value.errors


def test_a_policy_document_is_published_with_its_first_revision_and_audited(engine: Any, admin: Any) -> None:
    """Creating a policy publishes it at revision 1 (who, when, 新建), lists it on the portal and audits it."""
    policy_id = engine.content.create(admin, "policy", policy_values())
    shown = engine.content.published_policy(policy_id)
    assert shown["title"] == "示范县最低生活保障实施办法" and shown["doc_number"] == "示政发〔2026〕12号"
    assert "<h2>第一条</h2>" in shown["html"]
    listed = engine.content.published_policies(1)
    assert [p["id"] for p in listed.items] == [policy_id] and listed.total == 1
    [first] = engine.content.item(admin, "policy", policy_id)["revisions"]
    assert (first["revision"], first["action"], first["actor"]) == (1, "created", "admin1")
    assert "admin1" in first["actor_name"]
    assert audit_actions(engine.database_url) == [("content_created", f"policy:{policy_id}")]


def test_an_edit_needs_a_reason_and_a_change_and_keeps_every_revision_whole(engine: Any, admin: Any) -> None:
    """An edit without a reason or without a change is refused in Chinese; a good one is revision 2, and
    revision 1 still holds the whole first text."""
    policy_id = engine.content.create(admin, "policy", policy_values())
    changed = policy_values(body=policy_values()["body"] + "\n\n## 第三条\n\n由县民政局负责解释。")
    assert refusal(engine.content.edit, admin, "policy", policy_id, changed, "  ")["reason"] == [
        "请填写修改原因（记入修订记录）"]
    assert refusal(engine.content.edit, admin, "policy", policy_id, policy_values(), "没改")["form"] == [
        "内容没有变化，未保存新版本"]
    assert engine.content.edit(admin, "policy", policy_id, changed, "增加解释条款", based_on=1) == 2
    page = engine.content.compare(admin, "policy", policy_id, 1, 2)
    assert [(r["revision"], r["action"], r["reason"]) for r in page["revisions"]] == [
        (2, "edited", "增加解释条款"), (1, "created", "")]
    [body] = page["changes"]
    assert body.name == "body" and ("added", "由县民政局负责解释。") in body.lines
    assert ("removed", "本办法自发布之日起施行。") not in body.lines
    assert engine.content.compare(admin, "policy", policy_id, 2, 1)["changes"][0].lines[-1][0] == "removed"


def test_a_save_over_someone_elses_newer_revision_is_refused(engine: Any, admin: Any) -> None:
    """A form opened at revision 1 cannot overwrite revision 2 saved meanwhile (nothing is lost silently)."""
    policy_id = engine.content.create(admin, "policy", policy_values())
    engine.content.edit(admin, "policy", policy_id, policy_values(title="新标题"), "改标题", based_on=1)
    errors = refusal(engine.content.edit, admin, "policy", policy_id, policy_values(issuer="示范县民政局"), "改机关",
                     based_on=1)
    assert "第 2 版" in errors["form"][0]
    assert engine.content.item(admin, "policy", policy_id)["item"]["issuer"] == "示范县人民政府"


def test_restoring_an_earlier_revision_saves_it_as_a_new_one(engine: Any, admin: Any) -> None:
    """Restoring revision 1 after two edits makes revision 4 with revision 1's content (status kept);
    restoring what is already current is refused."""
    policy_id = engine.content.create(admin, "policy", policy_values())
    engine.content.edit(admin, "policy", policy_id, policy_values(title="第二稿"), "改标题")
    engine.content.edit(admin, "policy", policy_id, policy_values(title="第三稿", doc_number=""), "去掉文号")
    assert refusal(engine.content.restore, admin, "policy", policy_id, 1, "")["reason"]
    assert engine.content.restore(admin, "policy", policy_id, 1, "第二、三稿有误") == 4
    item = engine.content.item(admin, "policy", policy_id)
    assert item["item"]["title"] == "示范县最低生活保障实施办法" and item["item"]["doc_number"] == "示政发〔2026〕12号"
    assert (item["revisions"][0]["action"], item["revisions"][0]["restored_from"]) == ("restored", 1)
    assert engine.content.compare(admin, "policy", policy_id, 1, 4)["changes"] == []
    assert refusal(engine.content.restore, admin, "policy", policy_id, 1, "再来一次")["revision"] == [
        "第 1 版与当前内容相同，无需恢复"]
    assert refusal(engine.content.restore, admin, "policy", policy_id, 9, "不存在")["revision"] == ["没有第 9 版"]
    assert [a for a, _target in audit_actions(engine.database_url)] == [
        "content_created", "content_edited", "content_edited", "content_restored"]


def test_a_withdrawn_policy_leaves_the_portal_and_can_be_published_again(engine: Any, admin: Any) -> None:
    """Withdrawing (with a reason) hides the document, its PDF and its list entry from the portal; the
    administrators still see it; publishing it again is a revision too."""
    policy_id = engine.content.create(admin, "policy", policy_values(), Upload("办法.pdf", PDF))
    assert engine.content.published_pdf(policy_id).filename == "办法.pdf"
    assert refusal(engine.content.set_status, admin, "policy", policy_id, "withdrawn", "")["reason"]
    assert engine.content.set_status(admin, "policy", policy_id, "withdrawn", "已被新办法替代") == 2
    for read in (engine.content.published_policy, engine.content.published_pdf):
        with pytest.raises(NotFound):
            read(policy_id)
    assert engine.content.published_policies(1).total == 0
    assert engine.content.overview(admin, 1)["policies"].items[0]["status"] == "withdrawn"
    assert engine.content.pdf(admin, policy_id).size == len(PDF)
    assert refusal(engine.content.set_status, admin, "policy", policy_id, "withdrawn", "再撤")["status"]
    [status] = engine.content.compare(admin, "policy", policy_id)["changes"]
    assert (status.name, status.before, status.after) == ("status", "已发布", "已撤回")
    engine.content.set_status(admin, "policy", policy_id, "published", "误撤回")
    assert engine.content.published_policy(policy_id)["id"] == policy_id
    assert [a for a, _target in audit_actions(engine.database_url)][1:] == ["content_withdrawn", "content_published"]


def test_policy_fields_are_checked_with_chinese_messages(engine: Any, admin: Any) -> None:
    """Title, issuer and date are required, the date must be a real YYYY-MM-DD, and there must be a text or
    a PDF; nothing is stored when refused."""
    errors = refusal(engine.content.create, admin, "policy",
                     {"title": " ", "issuer": "", "issued_on": "2026-02-30", "body": "  \n"})
    assert errors == {"title": ["请填写标题"], "issuer": ["请填写发文机关"],
                      "issued_on": ["日期应为 YYYY-MM-DD 格式的有效日期（1900–2100 年）"],
                      "body": ["请填写正文或上传 PDF 文件（至少一项）"]}
    assert refusal(engine.content.create, admin, "policy", policy_values(issued_on=""))["issued_on"] == [
        "请填写成文或发布日期"]
    assert refusal(engine.content.create, admin, "policy", policy_values(title="长" * 201))["title"] == [
        "不能超过 200 个字"]
    assert engine.content.overview(admin, 1)["policies"].total == 0


def test_a_pdf_is_recognised_by_its_bytes_and_stored_by_its_hash(engine: Any, admin: Any, tmp_path: Path) -> None:
    """A PNG named .pdf, an empty file and one over the configured size are refused; a real PDF is stored
    once under the upload directory as its SHA-256 and may stand in for the text."""
    for upload, message in ((Upload("假的.pdf", PNG), "文件“假的.pdf”不是 PDF 文件（只接受 PDF）"),
                            (Upload("空.pdf", b""), "文件“空.pdf”是空文件"),
                            (Upload("大.pdf", PDF + b"0" * (1024 * 1024)), "文件“大.pdf”超过 1 MB")):
        assert refusal(engine.content.create, admin, "policy", policy_values(body=""), upload) == {"pdf": [message]}
    assert not (tmp_path / "uploads").exists()
    policy_id = engine.content.create(admin, "policy", policy_values(body=""), Upload("../../通知.pdf", PDF))
    stored = engine.content.published_pdf(policy_id)
    assert stored.path == tmp_path / "uploads" / hashlib.sha256(PDF).hexdigest() and stored.path.read_bytes() == PDF
    assert stored.filename == "通知.pdf"
    assert engine.content.published_policy(policy_id)["html"] == ""


def test_an_edit_keeps_replaces_or_removes_the_pdf(engine: Any, admin: Any) -> None:
    """Without a new file the PDF stays; a new one replaces it; removing it needs a text to remain."""
    policy_id = engine.content.create(admin, "policy", policy_values(), Upload("一.pdf", PDF))
    engine.content.edit(admin, "policy", policy_id, policy_values(title="改名"), "改标题")
    assert engine.content.pdf(admin, policy_id).filename == "一.pdf"
    engine.content.edit(admin, "policy", policy_id, policy_values(title="改名"), "换文件", Upload("二.pdf", PDF + b"%"))
    assert engine.content.pdf(admin, policy_id).filename == "二.pdf"
    assert refusal(engine.content.edit, admin, "policy", policy_id, policy_values(body="", remove_pdf="1"), "删")[
        "body"]
    engine.content.edit(admin, "policy", policy_id, policy_values(title="改名", remove_pdf="1"), "不再附文件")
    with pytest.raises(NotFound):
        engine.content.pdf(admin, policy_id)
    [pdf] = engine.content.compare(admin, "policy", policy_id)["changes"]
    assert pdf.name == "pdf" and pdf.before.startswith("二.pdf（") and pdf.after == ""


def test_the_about_page_has_a_slug_checked_once(engine: Any, admin: Any) -> None:
    """中心简介 is the page `about`; a slug must be lower-case words and unique, and an edit cannot change it."""
    assert refusal(engine.content.create, admin, "page", about_values(slug="About Us"))["slug"] == [
        "页面地址只能由小写字母、数字和连字符组成，如 about、guide-dibao"]
    page_id = engine.content.create(admin, "page", about_values())
    assert "页面“示范县社会救助中心简介”" in refusal(engine.content.create, admin, "page", about_values())["slug"][0]
    engine.content.edit(admin, "page", page_id, about_values(slug="elsewhere", title="中心简介"), "缩短标题")
    shown = engine.content.published_page("about")
    assert shown["title"] == "中心简介" and "<p>地址：示范县人民路 1 号</p>" in shown["html"]
    engine.content.set_status(admin, "page", page_id, "withdrawn", "改版")
    with pytest.raises(NotFound):
        engine.content.published_page("about")


def test_only_administrators_change_or_read_the_content_for_editing(engine: Any, admin: Any) -> None:
    """The center officer and a designer are refused every administrator call (scoping's `content`)."""
    policy_id = engine.content.create(admin, "policy", policy_values())
    for username in ("center1", "designer1", "clerk_c"):
        who = principal(engine, username)
        calls = [(engine.content.overview, (who, 1)), (engine.content.item, (who, "policy", policy_id)),
                 (engine.content.create, (who, "policy", policy_values())),
                 (engine.content.edit, (who, "policy", policy_id, policy_values(title="x"), "x")),
                 (engine.content.set_status, (who, "policy", policy_id, "withdrawn", "x")),
                 (engine.content.restore, (who, "policy", policy_id, 1, "x")),
                 (engine.content.compare, (who, "policy", policy_id))]
        for call, args in calls:
            with pytest.raises(Forbidden):
                call(*args)
    assert engine.content.item(admin, "policy", policy_id)["item"]["revision"] == 1


def test_markdown_never_lets_script_through() -> None:
    """<script>, onerror= and other handlers, javascript: links and raw <iframe> are gone from the HTML;
    headings, emphasis, an https link and a table stay."""
    html = render_markdown(HOSTILE_MARKDOWN)
    doc = lxml.html.fragment_fromstring(html, create_parent="div")
    assert doc.xpath("//script | //iframe | //img | //*[@onerror or @onclick]") == []
    assert all(not href.strip().lower().startswith("javascript:") for href in doc.xpath("//@href"))
    for dangerous in ("<script", "onerror", "onclick", "<iframe", 'href="javascript'):
        assert dangerous not in html
    assert "alert('script')" not in html
    assert doc.xpath("//h2")[0].text == "一、适用范围" and doc.xpath("//strong")[0].text == "本县户籍"
    assert doc.xpath("//a[@href='https://www.mca.gov.cn/']/@rel") == ["noopener noreferrer nofollow"]
    assert [td.text for td in doc.xpath("//td")] == ["低保", "850 元"]


def test_table_alignment_is_a_class_not_a_style() -> None:
    """A Markdown column's alignment comes out as an align-* class (the CSP applies no style=); typed styles go."""
    html = render_markdown("| 名称 | 金额 |\n|:--|--:|\n| 低保 | 800 |\n\n<p style=\"color:red\">红</p>")
    doc = lxml.html.fromstring(f"<div>{html}</div>")
    assert doc.xpath("//*[@style]") == []
    assert doc.xpath("//th/@class") == ["align-left", "align-right"]
    assert doc.xpath("//td/@class") == ["align-left", "align-right"]
