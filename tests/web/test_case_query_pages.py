"""The query page (案件查询, R-6.4.2): every filter in the form, errors per field, paging, the tasks view, the
export download; and `GET /api/v1/cases` with its filters, paging, formats and refusals."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import unquote

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from engine.tables import AUDIT
from tests.support.cases import closed_case, dispatch, start
from tests.support.db import tx

API = "/api/v1"
RAW_ID = "34052419800101001X"


def listed(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-case-no="([^"]+)"', html)


def exports(app: Flask) -> list[dict[str, Any]]:
    with tx(app.config["DATABASE_URL"]) as session:
        return [{"actor": r.actor, **r.details} for r in session.execute(
            select(AUDIT.c.actor, AUDIT.c.details).where(AUDIT.c.action == "case_export").order_by(AUDIT.c.id))]


def test_the_form_has_every_filter_with_names_and_keeps_the_values(engine: Any, login: Any) -> None:
    green, plain = start(engine, green_channel=True), start(engine, township="T02", village=None, level="township")
    html = login("center1").get("/cases/?green=1&township=T01&channel=window").data.decode()
    assert listed(html) == [green] and plain not in html
    for name in ("date_from", "date_to", "township", "village", "matter", "assistance_type", "channel", "level",
                 "department", "status", "overdue", "green", "satisfaction", "q"):
        assert f'name="{name}"' in html, name
    assert '<option value="T01" selected>' in html and 'name="green" id="q-green" value="1" checked' in html
    assert ">民政局</option>" in html and ">窗口</option>" in html and ">非常满意</option>" in html
    assert "共 1 件" in html


def test_bad_filters_are_shown_at_their_field_and_dropped(engine: Any, login: Any) -> None:
    case_no = start(engine)
    html = login("center1").get("/cases/?date_from=2026-13-01&township=NOPE&green=1").data.decode()
    assert 'id="err-date_from"' in html and "YYYY-MM-DD" in html
    assert 'id="err-township"' in html and "“NOPE”不存在" in html
    assert listed(html) == []  # green still applies
    assert listed(login("center1").get("/cases/?township=NOPE").data.decode()) == [case_no]


def test_paging_keeps_the_filter(engine: Any, login: Any) -> None:
    for _ in range(21):
        start(engine, green_channel=True)
    start(engine)
    client = login("center1")
    html = client.get("/cases/?green=1").data.decode()
    assert "共 21 件" in html and "第 1 / 2 页" in html and "green=1" in re.search(r'href="([^"]*page=2[^"]*)"',
                                                                                  html).group(1).replace("&amp;", "&")
    assert len(listed(client.get("/cases/?green=1&page=2").data.decode())) == 1


def test_tasks_view_lists_the_cases_tasks_in_scope(engine: Any, login: Any) -> None:
    to_mz, to_yb = start(engine, green_channel=True), start(engine)
    dispatch(engine, to_mz, "minzheng")
    dispatch(engine, to_yb, "yibao")
    html = login("center1").get("/cases/?view=tasks&green=1").data.decode()
    rows = re.findall(r'data-task-id="[^"]+" data-case-no="([^"]+)"', html)
    assert rows and set(rows) == {to_mz} and 'id="case-tasks"' in html and "民政局" in html
    assert 'aria-current="page">任务' in html
    mz = login("mz1").get("/cases/?view=tasks").data.decode()
    assert to_yb not in mz and to_mz in mz


def test_export_downloads_csv_and_xlsx_with_headers_and_audits(app: Flask, engine: Any, login: Any) -> None:
    green = start(engine, green_channel=True)
    start(engine)
    client = login("center1")
    response = client.post("/cases/export", data={"format": "csv", "green": "1"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="cases-') and ".csv" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("案件查询-")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.data
    response.close()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "案件编号" and [r[0] for r in rows[1:]] == [green] and RAW_ID not in body.decode()
    response = client.post("/cases/export", data={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    response.close()
    assert len(list(sheet.iter_rows(values_only=True))) == 3
    assert [(e["format"], e["rows"], e["filters"]) for e in exports(app)] == [("csv", 1, {"green": "1"}),
                                                                               ("xlsx", 2, {})]


def test_export_unmask_needs_a_reason_and_the_permission(app: Flask, engine: Any, login: Any) -> None:
    start(engine)
    center = login("center1")
    refused = center.post("/cases/export", data={"format": "csv", "unmask": "1", "reason": ""})
    assert refused.status_code == 422 and 'id="err-reason"' in refused.data.decode()
    response = center.post("/cases/export", data={"format": "csv", "unmask": "1", "reason": "复核救助对象"})
    assert RAW_ID in response.data.decode("utf-8-sig")
    response.close()
    assert login("analyst1").post("/cases/export", data={"format": "csv", "unmask": "1",
                                                         "reason": "复核"}).status_code == 403
    assert login("clerk_v").post("/cases/export", data={"format": "csv"}).status_code == 403
    assert 'id="case-export"' not in login("clerk_v").get("/cases/").data.decode()
    assert [(e["masked"], e.get("reason")) for e in exports(app)] == [(False, "复核救助对象")]


def test_api_lists_cases_with_filters_and_paging(engine: Any, client: Any, bearer: Any) -> None:
    greens = [start(engine, green_channel=True) for _ in range(3)]
    closed = closed_case(engine)
    headers = bearer("analyst1")
    page = client.get(f"{API}/cases?green=1&per_page=2", headers=headers).json
    assert page["total"] == 3 and page["per_page"] == 2 and len(page["items"]) == 2
    assert page["filters"] == {"green": "1"} and page["items"][0]["case_no"] == greens[-1]
    item = page["items"][0]
    assert item["applicant"] == "张*" and item["green_channel"] is True and item["status_label"] == "办理中"
    second = client.get(f"{API}/cases?green=1&per_page=2&page=2", headers=headers).json
    assert [i["case_no"] for i in second["items"]] == [greens[0]]
    assert [i["case_no"] for i in client.get(f"{API}/cases", headers=bearer("mz1")).json["items"]] == [closed]
    bad = client.get(f"{API}/cases?date_to=yesterday", headers=headers)
    assert bad.status_code == 422 and "date_to" in bad.json["errors"]


def test_api_formats_unmask_and_refusals(app: Flask, engine: Any, client: Any, bearer: Any, login: Any) -> None:
    start(engine)
    assert client.get(f"{API}/cases").status_code == 401
    assert client.get(f"{API}/cases", headers=bearer("clerk_v")).status_code == 403
    assert client.get(f"{API}/cases", headers=bearer("hotline12345")).status_code == 403
    response = client.get(f"{API}/cases?format=csv", headers=bearer("mz1"))
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    response.close()
    response = client.get(f"{API}/cases?format=xlsx", headers=bearer("center1"))
    assert response.mimetype.endswith("spreadsheetml.sheet")
    load_workbook(io.BytesIO(response.data), read_only=True)
    response.close()
    assert client.get(f"{API}/cases?format=pdf", headers=bearer("center1")).status_code == 422
    assert client.get(f"{API}/cases?format=csv&unmask=1", headers=bearer("center1")).status_code == 422
    assert client.get(f"{API}/cases?format=csv&unmask=1&reason=x", headers=bearer("analyst1")).status_code == 403
    session = login("center1").get(f"{API}/cases?format=csv&unmask=1&reason=核对")
    assert session.status_code == 403  # unmasking over the API takes a token
    response = client.get(f"{API}/cases?format=csv&unmask=1&reason=核对名单", headers=bearer("center1"))
    assert RAW_ID in response.data.decode("utf-8-sig")
    response.close()
    assert [(e["actor"], e["format"], e["masked"]) for e in exports(app)] == [
        ("mz1", "csv", True), ("center1", "xlsx", True), ("center1", "csv", False)]
