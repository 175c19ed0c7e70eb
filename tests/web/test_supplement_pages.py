"""补正 in the pages (R-6.2.2): the reviewer's verdicts on the task page, 待补正 on the case page, the
portal's upload, any window's upload, and the query code a window receipt prints (every channel)."""

from __future__ import annotations

import io
import re
from typing import Any

import lxml.html
from flask import Flask
from sqlalchemy import select

from engine.models import AuditLog
from tests.support.db import tx

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
FORM = {
    "kind": "application", "name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
    "township": "T01", "village": "T01V01", "address": "城东街道东湖社区3栋201室",
    "request": "因病住院，申请临时救助", "matters": ["linshi"],
}
PROOF = "致困原因证明（医疗票据、事故证明等）"


def doc(response: Any) -> Any:
    """The parsed HTML of a response."""
    return lxml.html.fromstring(response.data.decode())


def register(client: Any) -> tuple[str, str]:
    """Register FORM at the village window; return the case number and the receipt's query code."""
    response = client.post("/intake/new", data=FORM, content_type="multipart/form-data")
    assert response.status_code == 302, response.data.decode()
    case_no = response.headers["Location"].rsplit("/", 1)[1]
    receipt = doc(client.get(f"/intake/receipt/{case_no}"))
    [code] = receipt.xpath('//strong[@id="query-code"]/text()')
    return case_no, code


def review_form(client: Any, task_id: str, verdicts: dict[int, tuple[str, str]]) -> dict[str, str]:
    """The triage form as submitted: eligible for 民政局, and row → (verdict, problem or reason)."""
    page = doc(client.get(f"/tasks/{task_id}"))
    rows = int(page.xpath('//input[@name="material_review-rows"]/@value')[0])
    data = {"decision": "eligible", "departments": "minzheng", "matters": "linshi", "material_review-rows": str(rows)}
    for index in range(rows):
        for key in ("matter", "material"):
            name = f"material_review-{index}-{key}"
            data[name] = page.xpath(f'//input[@name="{name}"]/@value')[0]
    for index, (verdict, why) in verdicts.items():
        data[f"material_review-{index}-verdict"] = verdict
        data[f"material_review-{index}-{'problem' if verdict == 'supplement' else 'reason'}"] = why
    return data


def triage_task(engine: Any, case_no: str) -> str:
    """The open triage task of a case."""
    [task] = [t for t in engine.queries.list_tasks(case_no=case_no) if t["form_key"] == "triage"]
    return str(task["id"])


def test_the_reviewer_records_verdicts_beside_the_standards(login: Any, engine: Any) -> None:
    """The triage page lists 临时救助's two materials with their standard; 需补正 without a problem comes
    back 422 with the verdicts kept; with it the case becomes 待补正 and its page lists what is asked."""
    case_no, _code = register(login("clerk_v"))
    center = login("center1")
    task_id = triage_task(engine, case_no)
    center.post(f"/tasks/{task_id}/claim")
    page = doc(center.get(f"/tasks/{task_id}"))
    assert [r.get("data-material") for r in page.xpath('//table[@id="review-table"]/tbody/tr')] == ["申请书", PROOF]
    data = review_form(center, task_id, {0: ("ok", ""), 1: ("supplement", "")})
    refused = center.post(f"/tasks/{task_id}/complete", data=data)
    assert refused.status_code == 422
    again = doc(refused)
    assert again.xpath('//input[@name="material_review-1-verdict"][@value="supplement"]/@checked') == ["checked"]
    assert "has-error" in again.xpath('//fieldset[@id="field-material_review"]/@class')[0]
    data["material_review-1-problem"] = "缺少住院费用票据"
    assert center.post(f"/tasks/{task_id}/complete", data=data).status_code == 302
    shown = doc(center.get(f"/cases/{case_no}"))
    assert shown.xpath('//span[@id="case-status"]/text()')[0].strip() == "待补正"
    assert f"{PROOF}：缺少住院费用票据" in shown.xpath('//ol[@id="supplement-items"]')[0].text_content()


def test_the_applicant_uploads_on_the_portal_with_the_receipts_code(app: Flask, login: Any, engine: Any) -> None:
    """A window applicant follows the case online with the code printed on the receipt (shown once), sees
    the one-time list and uploads; a wrong code, no file or a second upload are refused in Chinese."""
    clerk = login("clerk_v")
    case_no, code = register(clerk)
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
    assert not doc(clerk.get(f"/intake/receipt/{case_no}")).xpath('//strong[@id="query-code"]')  # only once
    center = login("center1")
    task_id = triage_task(engine, case_no)
    center.post(f"/tasks/{task_id}/claim")
    center.post(f"/tasks/{task_id}/complete", data=review_form(center, task_id, {1: ("supplement", "票据不清晰")}))
    portal = app.test_client()
    progress = doc(portal.post("/portal/query", data={"case_no": case_no, "query_code": code}))
    assert progress.xpath('//strong[@id="case-status"]/text()') == ["待补正"]
    assert "票据不清晰" in progress.xpath('//ol[@id="supplement-items"]')[0].text_content()
    wrong = portal.post("/portal/supplement", data={"case_no": case_no, "query_code": "AAAA2222",
                                                     "files": (io.BytesIO(PNG), "票据.png")},
                        content_type="multipart/form-data")
    assert wrong.status_code == 404 and "查询码不正确" in wrong.data.decode()
    empty = portal.post("/portal/supplement", data={"case_no": case_no, "query_code": code},
                        content_type="multipart/form-data")
    assert empty.status_code == 422 and "请选择要上传的补正材料" in empty.data.decode()
    done = portal.post("/portal/supplement", data={"case_no": case_no, "query_code": code, "note": "已重新拍照",
                                                    "files": (io.BytesIO(PNG), "票据.png")},
                       content_type="multipart/form-data")
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    assert doc(done).xpath('//p[@id="supplement-done"]') and not doc(done).xpath('//section[@id="supplement"]')
    again = portal.post("/portal/supplement", data={"case_no": case_no, "query_code": code,
                                                     "files": (io.BytesIO(PNG), "又一张.png")},
                        content_type="multipart/form-data")
    assert again.status_code == 409 and "不需要补正" in again.data.decode()
    task_page = doc(center.get(f"/tasks/{triage_task(engine, case_no)}"))
    assert [li.text_content().split()[0] for li in task_page.xpath('//ul[@id="review-files"]/li[@class="new"]')] \
        == ["票据.png"]


def test_any_window_attaches_and_a_lost_code_is_reissued(app: Flask, login: Any, engine: Any, demo_db: str) -> None:
    """The center's window clerk attaches for a village case (audited); a department user may not; a
    reissued code replaces the old one."""
    village = login("clerk_v")
    case_no, old_code = register(village)
    center = login("center1")
    task_id = triage_task(engine, case_no)
    center.post(f"/tasks/{task_id}/claim")
    center.post(f"/tasks/{task_id}/complete", data=review_form(center, task_id, {0: ("supplement", "未签字")}))
    assert login("mz1").get("/cases/supplement").status_code == 403
    county_clerk = login("clerk_c")
    assert county_clerk.get(f"/cases/supplement?case_no={case_no}").status_code == 200
    done = county_clerk.post("/cases/supplement", data={"case_no": case_no, "files": (io.BytesIO(PNG), "申请书.png")},
                             content_type="multipart/form-data")
    assert done.status_code == 302
    with tx(demo_db) as session:
        assert session.scalars(select(AuditLog.actor).where(AuditLog.action == "supplement_attached")).all() \
            == ["clerk_c"]
    unknown = county_clerk.post("/cases/supplement", data={"case_no": "SJ209901010001",
                                                            "files": (io.BytesIO(PNG), "x.png")},
                                content_type="multipart/form-data")
    assert unknown.status_code == 404 and "案件不存在" in unknown.data.decode()
    assert village.post(f"/intake/receipt/{case_no}/code").status_code == 302
    [new_code] = doc(village.get(f"/intake/receipt/{case_no}")).xpath('//strong[@id="query-code"]/text()')
    portal = app.test_client()
    assert portal.post("/portal/query", data={"case_no": case_no, "query_code": old_code}).status_code == 404
    assert portal.post("/portal/query", data={"case_no": case_no, "query_code": new_code}).status_code == 200
