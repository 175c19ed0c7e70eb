"""The case query's export (R-6.4.2): CSV with a BOM and XLSX, masked unless unmasked with a reason, in the
user's scope, the filter applied, and one audit row with the filter and the rows handed out."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.cases.export import COLUMNS, CaseExport
from engine.cases.runtime import CaseEngine
from engine.errors import Forbidden, InvalidData
from engine.tables import AUDIT
from tests.support.cases import APPLICANT, closed_case, start
from tests.support.cli import relief
from tests.support.db import principal, tx

HEADER = [str(c) for c in COLUMNS]


def _csv(engine: CaseEngine, user: str = "center1", **kwargs: Any) -> list[dict[str, str]]:
    export = engine.exports.export(principal(engine, user), kwargs.pop("args", {}), "csv", **kwargs)
    data = b"".join(export)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _audits(engine: CaseEngine, action: str) -> list[dict[str, Any]]:
    with tx(engine.settings.database_url) as session:
        return [{"actor": r.actor, **r.details} for r in session.execute(
            select(AUDIT.c.actor, AUDIT.c.details).where(AUDIT.c.action == action).order_by(AUDIT.c.id))]


@pytest.fixture
def cases(case_engine: CaseEngine) -> dict[str, str]:
    return {"green": start(case_engine, green_channel=True, matters=["yiliao"]),
            "t02": start(case_engine, township="T02", village=None, level="township", matters=["dibao"]),
            "closed": closed_case(case_engine, departments=("minzheng",), matters=("linshi",))}


def test_csv_has_the_bom_names_and_masked_applicant(case_engine: CaseEngine, cases: dict[str, str]) -> None:
    rows = {r["案件编号"]: r for r in _csv(case_engine)}
    assert set(rows) == set(cases.values())
    green = rows[cases["green"]]
    assert green["绿色通道"] == "是" and green["受理渠道"] == "窗口" and green["乡镇(街道)"] != "T01"
    assert green["申请人"] == "张*" and APPLICANT["id_number"] not in green["身份证号"]
    assert "*" in green["身份证号"] and green["联系电话"] == "138****8000"
    closed = rows[cases["closed"]]
    assert closed["办理部门"] == "民政局" and closed["办结时间"] and closed["状态"] != "completed"
    assert "临时救助" in closed["事项"]
    assert rows[cases["t02"]]["办结时间"] == ""


def test_filter_applies_and_audit_row_has_filter_and_count(case_engine: CaseEngine, cases: dict[str, str]) -> None:
    rows = _csv(case_engine, args={"green": "1"})
    assert [r["案件编号"] for r in rows] == [cases["green"]]
    [entry] = _audits(case_engine, "case_export")
    assert entry == {"actor": "center1", "filters": {"green": "1"}, "format": "csv", "rows": 1, "complete": True,
                     "masked": True}
    assert _audits(case_engine, "unmask") == []


def test_xlsx_opens_with_masked_values(case_engine: CaseEngine, cases: dict[str, str]) -> None:
    export = case_engine.exports.export(principal(case_engine, "analyst1"), {"township": "T02"}, "xlsx")
    assert export.filename.endswith(".xlsx") and "spreadsheetml" in export.content_type
    sheet = load_workbook(io.BytesIO(b"".join(export)), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADER and len(rows) == 2
    record = dict(zip(HEADER, rows[1], strict=True))
    assert record["案件编号"] == cases["t02"] and record["申请人"] == "张*"
    assert record["联系电话"] == "138****8000"
    assert _audits(case_engine, "case_export")[0]["rows"] == 1


def test_unmask_needs_the_permission_and_a_reason(case_engine: CaseEngine, cases: dict[str, str]) -> None:
    with pytest.raises(InvalidData) as refused:
        case_engine.exports.export(principal(case_engine, "center1"), {}, "csv", unmask=True, reason="  ")
    assert "reason" in refused.value.errors
    with pytest.raises(Forbidden):
        case_engine.exports.export(principal(case_engine, "analyst1"), {}, "csv", unmask=True, reason="核对")
    assert _audits(case_engine, "case_export") == []
    rows = _csv(case_engine, args={"green": "1"}, unmask=True, reason="核对低保对象名单")
    assert rows[0]["申请人"] == "张三" and rows[0]["身份证号"] == APPLICANT["id_number"]
    assert rows[0]["联系电话"] == APPLICANT["phone"]
    [entry] = _audits(case_engine, "case_export")
    assert entry["masked"] is False and entry["reason"] == "核对低保对象名单" and entry["rows"] == 1
    [unmasked] = _audits(case_engine, "unmask")
    assert unmasked["reason"] == "核对低保对象名单" and unmasked["export"] == "csv"


def test_a_department_exports_only_its_cases(case_engine: CaseEngine, cases: dict[str, str]) -> None:
    assert [r["案件编号"] for r in _csv(case_engine, "mz1")] == [cases["closed"]]
    assert _csv(case_engine, "yb1") == []


def test_who_may_export_and_bad_requests(case_engine: CaseEngine, cases: dict[str, str]) -> None:
    for user in ("clerk_v", "town1", "hotline12345"):
        with pytest.raises(Forbidden):
            case_engine.exports.export(principal(case_engine, user), {}, "csv")
    with pytest.raises(InvalidData) as refused:
        case_engine.exports.export(principal(case_engine, "center1"), {}, "pdf")
    assert "format" in refused.value.errors
    with pytest.raises(InvalidData) as refused:
        case_engine.exports.export(principal(case_engine, "center1"), {"date_from": "昨天"}, "csv")
    assert "date_from" in refused.value.errors


def test_an_abandoned_download_is_audited_with_what_was_sent(case_engine: CaseEngine,
                                                            cases: dict[str, str]) -> None:
    export = case_engine.exports.export(principal(case_engine, "center1"), {}, "csv")
    chunks = iter(export)
    assert next(chunks).startswith(b"\xef\xbb\xbf")  # the header only: no row handed out yet
    chunks.close()  # type: ignore[attr-defined]  # the client went away
    export.close()  # and the server closes the response: still one row
    never_read = case_engine.exports.export(principal(case_engine, "center1"), {}, "xlsx")
    assert isinstance(never_read, CaseExport)
    never_read.close()
    assert [(e["format"], e["rows"], e["complete"]) for e in _audits(case_engine, "case_export")] == [
        ("csv", 0, False), ("xlsx", 0, False)]


def test_excel_formulas_are_not_exported_as_formulas(case_engine: CaseEngine) -> None:
    start(case_engine, request="=HYPERLINK(\"x\")申请救助")
    [row] = _csv(case_engine)
    assert row["救助诉求"].startswith("'=")


def test_cli_exports_as_the_user_with_the_filter(case_engine: CaseEngine, cases: dict[str, str],
                                                 tmp_path: Path) -> None:
    url = case_engine.settings.database_url
    out = tmp_path / "cases.csv"
    done = relief("case", "export", "--user", "mz1", "--format", "csv", "--out", str(out), database_url=url)
    assert done == {"file": str(out), "format": "csv", "rows": 1, "masked": True}
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and cases["closed"] in out.read_text("utf-8-sig")
    xlsx = tmp_path / "green.xlsx"
    done = relief("case", "export", "--user", "center1", "--format", "xlsx", "--out", str(xlsx), "--green",
                  "--unmask", "--reason", "年度核查", database_url=url)
    assert done["rows"] == 1 and done["masked"] is False
    rows = list(load_workbook(xlsx, read_only=True).active.iter_rows(values_only=True))
    assert rows[1][0] == cases["green"] and APPLICANT["id_number"] in rows[1]
    entries = _audits(case_engine, "case_export")
    assert [(e["actor"], e["filters"], e["rows"]) for e in entries] == [("mz1", {}, 1), ("center1", {"green": "1"}, 1)]
    refused = relief("case", "export", "--user", "clerk_v", "--out", str(tmp_path / "x.csv"), database_url=url,
                     expect=1)
    assert refused["error"] == "forbidden"
    assert relief("case", "export", "--user", "nobody", "--out", str(tmp_path / "y.csv"), database_url=url,
                  expect=1)["error"] == "not_found"
    assert relief("case", "export", "--user", "center1", "--date-from", "2026-02-30", "--out",
                  str(tmp_path / "z.csv"), database_url=url, expect=1)["errors"]["date_from"]
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "z.csv").exists()
