"""The portal's content in the browser: an administrator publishes a policy document written in Markdown,
the public reads it sanitised, the administrator edits it with a reason, sees the diff and restores the first
revision."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.support.browser import Step, visit
from tests.support.content import HOSTILE_MARKDOWN, PDF

pytestmark = pytest.mark.browser

TITLE = "示范县临时救助实施细则"
EDITED_TITLE = "示范县临时救助实施细则（修订）"


def answer_dialogs(page: Page, seen: list[str]) -> None:
    """Accept every dialog the page opens (the confirmations), noting its message."""

    def answer(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)


def test_a_policy_document_from_markdown_to_restored_revision(page_for: Callable[[str], Page], anonymous_page: Page,
                                                             step: Step) -> None:
    """Create with Markdown and a PDF → on /portal/policies, sanitised (no script runs, no iframe), the PDF
    downloads → edit with a reason → the diff → restore revision 1 after confirming → the first title is back."""
    admin = page_for("admin1")
    confirmations: list[str] = []
    answer_dialogs(admin, confirmations)
    with step(admin, "create a policy document"):
        admin.locator("nav.mainnav").get_by_role("link", name="门户内容").click()
        admin.locator("#new-policy").click()
        admin.locator("#f-title").fill(TITLE)
        admin.locator("#f-doc_number").fill("示民发〔2026〕3号")
        admin.locator("#f-issuer").fill("示范县民政局")
        admin.locator("#f-issued_on").fill("2026-04-01")
        admin.locator("#f-body").fill(HOSTILE_MARKDOWN)
        admin.locator("#f-pdf").set_input_files(files=[{"name": "实施细则.pdf", "mimeType": "application/pdf",
                                                        "buffer": PDF}])
        admin.get_by_role("button", name="发布").click()
        expect(admin.get_by_role("status")).to_contain_text("已发布（第 1 版）")
        expect(admin.locator("#item-status")).to_have_text("已发布")
        policy_url = admin.url

    public = anonymous_page
    alerts: list[str] = []
    answer_dialogs(public, alerts)
    with step(public, "read it on the portal, sanitised"):
        visit(public, "/portal/query")
        public.locator("nav.mainnav").get_by_role("link", name="政策法规").click()
        expect(public).to_have_url(re.compile(r"/portal/policies$"))
        public.get_by_role("link", name=TITLE).click()
        text = public.locator("#policy-text")
        expect(text.locator("strong")).to_have_text("本县户籍")
        expect(text.locator("table td").first).to_have_text("低保")
        expect(text.locator("script, iframe, img, [onerror], [onclick], a[href^='javascript']")).to_have_count(0)
        expect(public.locator("iframe")).to_have_count(0)
        with public.expect_download() as download:
            public.locator("#policy-pdf").click()
        assert download.value.suggested_filename == "实施细则.pdf"
        assert alerts == [], f"a script in the Markdown ran: {alerts}"

    with step(admin, "edit it with a reason and see the diff"):
        admin.goto(policy_url)
        admin.locator("#f-title").fill(EDITED_TITLE)
        admin.locator("#f-body").fill("## 一、适用范围\n\n本细则适用于**本县户籍**居民。\n\n由县民政局负责解释。")
        admin.locator("#f-reason").fill("精简条文，增加解释条款")
        admin.get_by_role("button", name="保存为新版本").click()
        expect(admin).to_have_url(re.compile(r"/revisions$"))
        expect(admin.get_by_role("status")).to_contain_text("已保存为第 2 版")
        expect(admin.locator("tr[data-field=title] td.diff-old")).to_have_text(TITLE)
        expect(admin.locator("tr[data-field=title] td.diff-new")).to_have_text(EDITED_TITLE)
        expect(admin.locator("#body-diff .diff-added")).to_contain_text(["+ 由县民政局负责解释。"])
        expect(admin.locator("#body-diff .diff-removed").first).to_be_visible()
        expect(admin.locator("tr[data-revision='2']")).to_contain_text("精简条文，增加解释条款")

    with step(admin, "restore the first revision"):
        first = admin.locator("tr[data-revision='1']")
        first.locator("input[name=reason]").fill("修订稿待审定，先恢复原文")
        first.get_by_role("button", name="恢复此版本").click()
        expect(admin.get_by_role("status")).to_contain_text("已将第 1 版恢复为第 3 版")
        assert confirmations and "确认恢复第 1 版" in confirmations[-1]
        expect(admin.locator("tr[data-revision='3']")).to_contain_text("恢复旧版（自第 1 版）")
        expect(admin.locator("tr[data-field=title] td.diff-new")).to_have_text(TITLE)

    with step(public, "the portal shows the first revision again"):
        visit(public, "/portal/policies")
        expect(public.locator("#policies")).to_contain_text(TITLE)
        expect(public.locator("#policies")).not_to_contain_text("（修订）")
        assert alerts == []
