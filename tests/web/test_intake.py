"""Window registration (R-5.1.1): consultations, applications with materials, the printable receipt."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from engine import clock
from engine.access.accounts import create_user
from engine.models import Application, Attachment, Consultation, ProcessInstance
from tests.support.db import suite_settings, tx
from tests.support.web import DEMO_PASSWORD

FORM = {
    "kind": "application", "name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
    "township": "T01", "village": "T01V01", "address": "城东街道东湖社区3栋201室",
    "request": "因病致贫，申请医疗救助和临时救助", "matters": ["yiliao", "linshi"],
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


def count(app: Flask, model: Any) -> int:
    """Rows of one table in the app's database."""
    with tx(app.config["DATABASE_URL"]) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def application(app: Flask, case_no: str) -> Application:
    """The stored application of a case."""
    with tx(app.config["DATABASE_URL"]) as session:
        return session.scalars(select(Application).where(Application.case_no == case_no)).one()


def register(client: Any, **changes: Any) -> Any:
    """POST the registration form with FORM's values changed by `changes`."""
    return client.post("/intake/new", data={**FORM, **changes}, content_type="multipart/form-data")


def case_no_of(response: Any) -> str:
    """The case number from the redirect to the receipt."""
    assert response.status_code == 302, response.data.decode()
    location = response.headers["Location"]
    assert location.startswith("/intake/receipt/")
    return str(location.rsplit("/", 1)[1])


def test_village_clerk_registration_reaches_center_triage(app: Flask, login: Any, engine: Any) -> None:
    """A village clerk's application starts a case at village level, green channel kept, triaged by the center."""
    case_no = case_no_of(register(login("clerk_v"), green_channel="1"))
    triage = [t for t in engine.queries.list_tasks(group="center") if t["case_no"] == case_no]
    assert [t["form_key"] for t in triage] == ["triage"]
    stored = application(app, case_no)
    assert (stored.channel, stored.level, stored.green_channel) == ("window", "village", True)
    assert (stored.registered_by, stored.registered_org, stored.matters) == ("clerk_v", "T01V01", ["yiliao", "linshi"])


def test_level_follows_the_clerks_organisation(app: Flask, login: Any) -> None:
    """A clerk at the center registers at county level; without the flag there is no green channel."""
    stored = application(app, case_no_of(register(login("clerk_c"))))
    assert (stored.level, stored.green_channel, stored.registered_org) == ("county", False, "center")


def test_own_region_is_preselected(login: Any) -> None:
    """The village clerk's form opens with their township and village chosen."""
    html = login("clerk_v").get("/intake/new").data.decode()
    assert '<option value="T01" selected>' in html
    assert 'value="T01V01" data-township="T01" selected' in html


def test_bad_id_check_digit_keeps_values(app: Flask, login: Any) -> None:
    """A wrong GB 11643 check digit is refused with 422 and the Chinese message; entries are kept."""
    response = register(login("clerk_v"), id_number="340524198001010010", address="东湖社区5栋")
    html = response.data.decode()
    assert response.status_code == 422
    assert "身份证号码校验位不正确" in html
    assert 'value="340524198001010010"' in html and 'value="东湖社区5栋"' in html
    assert "因病致贫，申请医疗救助和临时救助</textarea>" in html and 'value="yiliao" checked' in html
    assert count(app, Application) == 0


def test_village_outside_township_is_refused(app: Flask, login: Any) -> None:
    """A village that does not belong to the chosen township is refused; no case is created."""
    response = register(login("clerk_v"), township="T02", village="T01V01")
    assert response.status_code == 422 and "不属于青阳镇" in response.data.decode()
    assert count(app, Application) == 0


def test_only_clerks_may_register(client: Any, login: Any) -> None:
    """Staff without the clerk role get 403; anonymous visitors are sent to sign in."""
    center = login("center1")
    assert center.get("/intake/new").status_code == 403
    assert register(center).status_code == 403
    assert client.get("/intake/new").status_code == 302


def test_consultation_starts_no_process(app: Flask, login: Any) -> None:
    """A consultation is stored as a Consultation row; no application or process instance appears."""
    response = login("clerk_v").post("/intake/new", data={
        "kind": "consultation", "name": "李四", "phone": "", "township": "T01", "village": "T01V02",
        "question": "低保怎么申请？", "answer": "带户口簿到社区窗口申请", "matters": ["dibao"]})
    assert response.status_code == 302
    assert (count(app, Application), count(app, ProcessInstance)) == (0, 0)
    with tx(app.config["DATABASE_URL"]) as session:
        row = session.scalars(select(Consultation)).one()
        assert (row.visitor_name, row.phone, row.village, row.matters) == ("李四", None, "T01V02", ["dibao"])
        assert (row.registered_by, row.registered_org) == ("clerk_v", "T01V01")


def test_consultation_needs_a_question(app: Flask, login: Any) -> None:
    """A consultation without a question is refused with 422 and nothing is stored."""
    response = login("clerk_v").post("/intake/new", data={"kind": "consultation", "name": "李四", "township": "T01"})
    assert response.status_code == 422 and "请填写咨询的问题" in response.data.decode()
    assert count(app, Consultation) == 0


def test_png_is_stored_and_listed_on_receipt(app: Flask, login: Any) -> None:
    """An uploaded PNG is stored under its SHA-256 and listed on the receipt."""
    client = login("clerk_v")
    case_no = case_no_of(register(client, files=[(io.BytesIO(PNG), "身份证正面.png")]))
    digest = hashlib.sha256(PNG).hexdigest()
    assert (Path(app.config["UPLOAD_DIR"]) / digest).read_bytes() == PNG
    with tx(app.config["DATABASE_URL"]) as session:
        row = session.scalars(select(Attachment).where(Attachment.case_no == case_no)).one()
        assert (row.filename, row.content_type, row.sha256) == ("身份证正面.png", "image/png", digest)
    assert "身份证正面.png" in client.get(f"/intake/receipt/{case_no}").data.decode()


def test_program_renamed_to_pdf_refuses_whole_submission(app: Flask, login: Any) -> None:
    """A .exe renamed to .pdf (wrong magic bytes) is refused with the other files; no case is created."""
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)
    response = register(login("clerk_v"), files=[(io.BytesIO(PNG), "ok.png"), (io.BytesIO(exe), "申请书.pdf")])
    html = response.data.decode()
    assert response.status_code == 422 and "申请书.pdf" in html and "内容与扩展名不符" in html
    assert "请重新选择" in html
    assert (count(app, Application), count(app, Attachment)) == (0, 0)
    assert not any(Path(app.config["UPLOAD_DIR"]).glob("*"))


def test_receipt_shows_masked_personal_data(login: Any) -> None:
    """The receipt has the case number, window, clerk and masked name, ID and phone, and a print button."""
    client = login("clerk_v")
    case_no = case_no_of(register(client))
    html = client.get(f"/intake/receipt/{case_no}").data.decode()
    assert f'<strong id="case-no">{case_no}</strong>' in html
    assert "张*" in html and "340524********001X" in html and "138****8000" in html
    assert "34052419800101001X" not in html and "13800138000" not in html and "张三" not in html
    assert "城东街道东湖社区" in html and "王芳" in html and "data-print" in html
    assert "2 个工作日内" in html


def test_receipt_hidden_from_clerk_of_another_township(app: Flask, login: Any) -> None:
    """A clerk of another township gets 404 for the receipt; the registering clerk sees it."""
    case_no = case_no_of(register(login("clerk_v")))
    with tx(app.config["DATABASE_URL"]) as session:
        create_user(session, suite_settings(), "clerk_t2", DEMO_PASSWORD, "T02", ["clerk"], clock.now(),
                    enforce_policy=False)  # a demo user: the demo password
    assert login("clerk_t2").get(f"/intake/receipt/{case_no}").status_code == 404
    assert login("clerk_v").get(f"/intake/receipt/{case_no}").status_code == 200


def test_oversized_and_too_many_files_are_refused(app: Flask, login: Any) -> None:
    """A file over 10 MB, or more than 10 files, refuses the submission with a Chinese reason."""
    client = login("clerk_v")
    big = PNG + bytes(10 * 1024 * 1024)
    response = register(client, files=[(io.BytesIO(big), "大图.png")])
    assert response.status_code == 422 and "超过 10 MB" in response.data.decode()
    many = [(io.BytesIO(PNG), f"第{i}页.png") for i in range(11)]
    response = register(client, files=many)
    assert response.status_code == 422 and "最多上传 10 个文件" in response.data.decode()
    assert count(app, Application) == 0
