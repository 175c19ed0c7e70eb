"""审计日志 (/admin/audit): administrators search the audit log (who, action, target, period; newest first, 20 a
page) with the chain's state shown, check it now, and export what they found as CSV for Excel (a BOM, streamed,
the export itself audited); everyone else gets 403."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import lxml.html
import pytest
from flask.testing import FlaskClient

from engine import clock
from engine.access.accounts import audit
from engine.audit.log import CSV_BATCH
from engine.cases.runtime import CaseEngine
from engine.deadlines.jobs import tick
from tests.support.audit import entries, raw
from tests.support.db import tx

Login = Callable[[str], FlaskClient]


def page(client: FlaskClient, query: str = "", status: int = 200) -> Any:
    """/admin/audit/?query parsed, insisting on its status."""
    response = client.get(f"/admin/audit/?{query}")
    assert response.status_code == status, response.data.decode()[:500]
    return lxml.html.fromstring(response.data.decode())


def rows(html: Any) -> list[list[str]]:
    """The entries table's cells, row by row."""
    return [[" ".join(td.text_content().split()) for td in tr.xpath("td")]
            for tr in html.xpath('//table[@id="audit-entries"]/tbody/tr[@data-action]')]


def exported(client: FlaskClient, query: str = "") -> tuple[Any, list[list[str]]]:
    """GET the CSV export: (the response, its rows after the header, BOM stripped)."""
    response = client.get(f"/admin/audit/export.csv?{query}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    assert table[0] == ["序号", "时间", "操作人", "操作", "操作代码", "对象", "详情", "校验值"]
    return response, table[1:]


@pytest.fixture
def logged(engine: CaseEngine, demo_db: str) -> str:
    """The demo database with unmask entries of center1 (two cases) and a yesterday's login of mz1."""
    with tx(demo_db) as session:
        audit(session, "center1", "unmask", clock.now(), "SJ20260101001", reason="核对身份证号")
        audit(session, "center1", "unmask", clock.now(), "SJ20260202002", reason="电话回访")
        audit(session, "mz1", "login", clock.now() - timedelta(days=1))
    return demo_db


@pytest.mark.parametrize("username", ["center1", "clerk_c", "designer1", "mz1", "analyst1"])
def test_only_administrators_reach_the_pages(login: Login, logged: str, username: str) -> None:
    """Everyone but an administrator gets 403 on the search, the export and the check (no export is logged) and
    has no 审计日志 link."""
    client = login(username)
    assert client.get("/admin/audit/").status_code == 403
    assert client.get("/admin/audit/export.csv").status_code == 403
    assert client.post("/admin/audit/verify").status_code == 403
    assert "audit_exported" not in {e["action"] for e in entries(logged)}
    assert "/admin/audit/" not in client.get("/").data.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    """Without signing in the page leads to the sign-in page."""
    response = client.get("/admin/audit/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_log_newest_first_with_labels_and_reasons(login: Login, logged: str) -> None:
    """The nav links to it; the newest entry first (admin1's own sign-in), actions in Chinese, people by name, an
    unmask's reason among its details; 20 a page."""
    admin = login("admin1")
    home = lxml.html.fromstring(admin.get("/").data.decode())
    assert home.xpath('//nav[@class="mainnav"]/a[normalize-space()="审计日志"]/@href') == ["/admin/audit/"]
    html = page(admin)
    found = rows(html)
    assert len(found) == 20 and int(found[0][0]) > int(found[1][0])
    assert found[0][2:4] == ["系统管理员 钱伟（admin1）", "登录"]
    unmask = next(r for r in found if r[4] == "SJ20260202002")
    assert unmask[3] == "查看完整个人信息" and "原因：电话回访" in unmask[5]
    assert "第 1 / " in html.text_content()
    assert rows(page(admin, "page=2"))[0][0] == str(int(found[-1][0]) - 1)


def test_filters_by_who_what_target_and_period(login: Login, logged: str) -> None:
    """actor, action, the start of the target and a period of Beijing days narrow the list; the pager and the
    export link keep them."""
    admin = login("admin1")
    by_center = rows(page(admin, "actor=center1&action=unmask"))
    assert [r[4] for r in by_center] == ["SJ20260202002", "SJ20260101001"]
    assert [r[4] for r in rows(page(admin, "target=SJ2026010"))] == ["SJ20260101001"]
    yesterday = clock.local_text(clock.now() - timedelta(days=1), "%Y-%m-%d")
    assert [r[2] for r in rows(page(admin, f"since={yesterday}&until={yesterday}&action=login"))] == [
        "民政局 刘洋（mz1）"]
    html = page(admin, "actor=center1")
    assert html.xpath('//a[@id="export"]/@href') == ["/admin/audit/export.csv?actor=center1"]
    assert html.xpath('//select[@name="action"]/option[@value="unmask"]/text()') == ["查看完整个人信息"]


def test_a_bad_date_is_named(login: Login, logged: str) -> None:
    """A date that is not YYYY-MM-DD: 400, the message beside the field, no rows."""
    html = page(login("admin1"), "since=2026-02-30", status=400)
    assert "日期格式应为 YYYY-MM-DD" in html.text_content() and rows(html) == []
    assert login("admin1").get("/admin/audit/export.csv?since=x").status_code == 400


def test_the_chain_state_and_checking_it_now(login: Login, logged: str) -> None:
    """Before any check the page says so; 立即校验 checks the chain (链完整); after an edit made with SQL the next
    check names the entry."""
    admin = login("admin1")
    assert "尚未校验" in page(admin).xpath('//*[@id="chain-state"]')[0].text_content()
    response = admin.post("/admin/audit/verify", data={"actor": "center1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/audit/?actor=center1")
    assert "链完整" in page(admin).xpath('//*[@id="chain-state"]')[0].text_content()
    raw(logged, "UPDATE audit_log SET target = 'SJ-forged' WHERE seq = 3")
    admin.post("/admin/audit/verify")
    state = page(admin).xpath('//*[@id="chain-state"]')[0].text_content()
    assert "校验未通过" in state and "记录被修改" in state and "第 3 条" in state


def test_the_csv_export_is_for_excel_and_audited(login: Login, logged: str) -> None:
    """The export of a search: UTF-8 with a BOM, Chinese labels, newest first, only the matching rows; the export
    is an entry of its own with the filter and the row count."""
    admin = login("admin1")
    response, table = exported(admin, "actor=center1&action=unmask")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert [(r[2], r[3], r[4], r[5]) for r in table] == [("center1", "查看完整个人信息", "unmask", "SJ20260202002"),
                                                         ("center1", "查看完整个人信息", "unmask", "SJ20260101001")]
    assert '"reason": "核对身份证号"' in table[1][6] and len(table[0][7]) == 64
    last = entries(logged)[-1]
    assert (last["actor"], last["action"], last["details"]["filters"], last["details"]["rows"]) == (
        "admin1", "audit_exported", {"actor": "center1", "action": "unmask"}, 2)


def test_the_export_streams_its_rows(login: Login, logged: str) -> None:
    """1,200 entries come out in pieces of CSV_BATCH rows as they are read, not as one document."""
    with tx(logged) as session:
        for n in range(1200):
            audit(session, "center1", "attachment_download", clock.now(), f"SJ{n:05d}", attachment=n)
    response = login("admin1").get("/admin/audit/export.csv?action=attachment_download")
    assert response.is_streamed
    pieces = list(response.response)
    assert len(pieces) == 1 + -(-1200 // CSV_BATCH)
    assert sum(piece.count(b"\n") for piece in pieces) == 1201


def test_a_username_typed_as_a_formula_stays_text(login: Login, logged: str, client: FlaskClient) -> None:
    """A failed sign-in as '=HYPERLINK(…)' is logged under that name: the page shows it as typed and the CSV
    cell starts with ' so Excel does not run it."""
    client.post("/login", data={"username": "=HYPERLINK(\"http://x\")", "password": "x"})
    admin = login("admin1")
    assert rows(page(admin, "action=login_failed"))[0][2] == '=HYPERLINK("http://x")'
    _, table = exported(admin, "action=login_failed")
    assert table[0][2] == "'=HYPERLINK(\"http://x\")"


def test_the_daily_checks_notice_leads_to_the_page(login: Login, logged: str, engine: CaseEngine) -> None:
    """When the day's check finds the chain broken, admin1's notices list it (审计日志校验未通过) with a link to
    the audit log."""
    raw(logged, "DELETE FROM audit_log WHERE seq = 4")
    assert tick(engine, clock.now())["audit_check"]["ok"] is False
    html = lxml.html.fromstring(login("admin1").get("/notifications").data.decode())
    [notice] = [li for li in html.xpath('//li[contains(@class, "notice")]') if "审计日志" in li.text_content()]
    assert "审计日志校验未通过" in notice.text_content() and "第 4 条" in notice.text_content()
    assert notice.xpath(".//a/@href")[0] == "/admin/audit/"
