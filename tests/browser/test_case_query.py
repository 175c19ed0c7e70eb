"""The query page in the browser (R-6.4.2): filter, see the results and the tasks view, export after the
confirmation (a CSV with the BOM; dismissing the confirmation downloads nothing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.support.browser import LiveServer, Step, register_two_cases, visit

pytestmark = pytest.mark.browser


def test_filter_then_export_with_confirmation(page_for: Callable[[str], Page], step: Step,
                                              live_server: LiveServer, tmp_path: Path) -> None:
    engine = live_server.app.extensions["relief_engine"]
    plain, green = register_two_cases(engine)
    page = page_for("center1")
    rows = page.locator("table#cases tr[data-case-no]")
    with step(page, "query page filters"):
        visit(page, "/cases/")
        expect(rows).to_have_count(2)
        form = page.locator("form#case-query")
        form.locator("select[name=channel]").select_option(label="12345热线")
        form.get_by_label("绿色通道").check()
        form.get_by_role("button", name="查询").click()
        expect(page).to_have_url(re.compile("green=1"))
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(green)
        expect(page.locator("#result-count")).to_have_text("共 1 件")
        page.locator("#tab-tasks").click()
        expect(page.locator("table#case-tasks tr[data-task-id]").first).to_contain_text(green)
        page.locator("#tab-cases").click()
        expect(rows).to_have_count(1)
    with step(page, "export after the confirmation"):
        messages: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            messages.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", dismiss)
        page.locator("#export-button").click()
        expect(rows).to_have_count(1)  # still the page: nothing was sent
        assert messages and "审计日志" in messages[0]
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_download() as info:
            page.locator("#export-button").click()
        download = info.value
        assert download.suggested_filename.startswith("案件查询-") and download.suggested_filename.endswith(".csv")
        saved = tmp_path / "export.csv"
        download.save_as(saved)
        data = saved.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and green in data.decode("utf-8-sig")
        assert plain not in data.decode("utf-8-sig") and "320281199003070026" not in data.decode("utf-8-sig")
