"""电子档案 on the case page (R-6.1.2.2): versions and audited downloads for the county-wide roles and the
departments that handled the case, refused to everyone else; 重新归档 by administrators with a reason."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from sqlalchemy import select

from engine.models import AuditLog
from tests.support.archive import build
from tests.support.cases import complete_case, start
from tests.support.db import tx


def archived_case(engine: Any) -> str:
    """A case walked through 民政局 to 办结 and archived by the tick."""
    case_no = start(engine)
    complete_case(engine, case_no)
    assert [b["case_no"] for b in build(engine)["archives_built"]] == [case_no]
    return case_no


def audited(app: Flask, action: str) -> list[AuditLog]:
    """The audit log's entries of one action, oldest first."""
    with tx(app.config["DATABASE_URL"]) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_the_case_page_lists_the_archive_and_downloads_are_audited(app: Flask, engine: Any, login: Any) -> None:
    """center1 sees 电子档案 with the 档号 and version 1; the PDF and the manifest download, each logged."""
    case_no = archived_case(engine)
    client = login("center1")
    html = client.get(f"/cases/{case_no}").data.decode()
    assert 'id="case-archive"' in html and 'data-version="1"' in html
    [version] = engine.archives.show(case_no)["versions"]
    assert version["archive_no"] in html and "重新归档" not in html  # the button is the administrators'
    pdf = client.get(f"/cases/{case_no}/archive/1/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert f"{version['archive_no']}-v1.pdf" in pdf.headers["Content-Disposition"]
    manifest = client.get(f"/cases/{case_no}/archive/1/manifest")
    assert json.loads(manifest.data)["case_no"] == case_no
    assert [(a.actor, a.target, a.details) for a in audited(app, "archive_download")] == [
        ("center1", case_no, {"version": 1, "file": "pdf"}), ("center1", case_no, {"version": 1, "file": "manifest"})]


def test_downloads_outside_scope_are_refused(app: Flask, engine: Any, login: Any) -> None:
    """The department that handled it and the analyst may download; another department gets 404, a window clerk
    who sees the case 403 (and no 电子档案 section); an unknown version 404; nothing refused is logged."""
    case_no = archived_case(engine)
    url = f"/cases/{case_no}/archive/1/pdf"
    assert login("mz1").get(url).status_code == 200
    assert login("analyst1").get(url).status_code == 200
    assert login("yb1").get(url).status_code == 404
    clerk = login("clerk_c")
    assert clerk.get(url).status_code == 403
    assert 'id="case-archive"' not in clerk.get(f"/cases/{case_no}").data.decode()
    assert login("center1").get(f"/cases/{case_no}/archive/2/pdf").status_code == 404
    assert [a.actor for a in audited(app, "archive_download")] == ["mz1", "analyst1"]


def test_an_altered_pdf_is_not_handed_out(engine: Any, login: Any) -> None:
    """A PDF changed after archiving is refused (404), so nobody downloads a file that is not the archived one."""
    from tests.support.archive import folder

    case_no = archived_case(engine)
    pdf = folder(engine, case_no) / "casefile.pdf"
    pdf.chmod(0o644)
    pdf.write_bytes(pdf.read_bytes() + b"%")
    assert login("center1").get(f"/cases/{case_no}/archive/1/pdf").status_code == 404


def test_administrators_rearchive_with_a_reason(app: Flask, engine: Any, login: Any) -> None:
    """admin1 sees 重新归档; without a reason it is refused beside the field (422), with one version 2 is due
    (listed 待归档, audited); center1 may not (403); the tick builds it."""
    case_no = archived_case(engine)
    admin = login("admin1")
    page = admin.get(f"/cases/{case_no}").data.decode()
    assert 'id="rearchive-form"' in page and "data-confirm" in page
    refused = admin.post(f"/cases/{case_no}/archive", data={"reason": ""})
    assert refused.status_code == 422 and "请填写重新归档的原因" in refused.data.decode()
    assert login("center1").post(f"/cases/{case_no}/archive", data={"reason": "更正"}).status_code == 403
    done = admin.post(f"/cases/{case_no}/archive", data={"reason": "更正办理记录"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/cases/{case_no}#case-archive")
    html = admin.get(f"/cases/{case_no}").data.decode()
    assert 'data-version="2"' in html and "待归档" in html and "更正办理记录" in html
    assert [(a.actor, a.details["version"]) for a in audited(app, "archive_requested")] == [("admin1", 2)]
    assert [b["version"] for b in build(engine)["archives_built"]] == [2]
    assert admin.get(f"/cases/{case_no}/archive/2/pdf").status_code == 200


def test_an_open_case_has_no_archive_section(engine: Any, login: Any) -> None:
    """While the case runs there is nothing archived to show, and 重新归档 is refused (409) saying why."""
    case_no = start(engine)
    admin = login("admin1")
    assert 'id="case-archive"' not in admin.get(f"/cases/{case_no}").data.decode()
    refused = admin.post(f"/cases/{case_no}/archive", data={"reason": "提前归档"})
    assert refused.status_code == 409 and "尚未结束" in refused.data.decode()
