"""The catalog pages (/catalog, R-6.1.3.1/R-6.1.3.2): staff read, administrators edit with a reason,
a rejected form keeps what was typed, each revision shows its changes and can be restored."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import lxml.html
from flask.testing import FlaskClient
from openpyxl import load_workbook

from engine.catalog.records import FIELDS
from tests.support.db import engine_for
from tests.support.web import form_of


def doc(response: Any) -> Any:
    """The parsed HTML of a response."""
    return lxml.html.fromstring(response.data.decode())


def test_every_staff_member_reads_the_catalog_but_only_admins_edit(login: Callable[[str], FlaskClient]) -> None:
    """A department clerk sees the list, a matter's materials with their standards and its revisions,
    without an edit button; the edit and new pages answer 403 for them and 200 for an administrator."""
    clerk = login("mz1")
    listing = doc(clerk.get("/catalog/"))
    assert len(listing.xpath('//table[@id="matters"]/tbody/tr')) == 16
    assert listing.xpath('//tr[@id="matter-dibao"]//td[7]')[0].text_content().strip() == "在用"
    assert not listing.xpath('//a[@id="new-matter"]')
    shown = doc(clerk.get("/catalog/dibao"))
    assert "最低生活保障申请书" in shown.xpath('//table[@id="materials"]')[0].text_content()
    assert not shown.xpath('//a[@id="edit-matter"]')
    assert clerk.get("/catalog/dibao/edit").status_code == 403
    assert clerk.get("/catalog/new").status_code == 403
    assert clerk.post("/catalog/dibao/revisions/1/restore", data={"reason": "x"}).status_code == 403
    assert login("admin1").get("/catalog/dibao/edit").status_code == 200
    unconfirmed = doc(clerk.get("/catalog/?status=unconfirmed"))
    assert len(unconfirmed.xpath('//table[@id="matters"]/tbody/tr')) == 8


def test_an_admin_adds_a_review_standard_and_a_bad_form_keeps_what_was_typed(
        login: Callable[[str], FlaskClient], demo_db: str) -> None:
    """The administrator fills a blank material row with its review standard; without a reason the page
    comes back 422 with the row still filled in; with one it saves revision 2 and the matter shows it."""
    admin = login("admin1")
    data = form_of(admin, "linshi")
    row = int(data["material_rows"]) - 3  # the first blank row
    data.update({f"materials-{row}-name": "户口簿", f"materials-{row}-form": "original",
                 f"materials-{row}-required": "true", f"materials-{row}-points": "核对本人页",
                 f"materials-{row}-problems": "缺少本人页\n复印不清晰", "reason": ""})
    refused = admin.post("/catalog/linshi/edit", data=data)
    assert refused.status_code == 422
    page = doc(refused)
    assert page.xpath(f'//input[@name="materials-{row}-name"]/@value') == ["户口簿"]
    assert "请填写修改理由" in page.xpath('//div[contains(@class,"has-error")]')[-1].text_content()
    data["reason"] = "补充户口簿的审查标准"
    saved = admin.post("/catalog/linshi/edit", data=data)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/catalog/linshi")
    matter = engine_for(demo_db).catalog.get("linshi")
    assert matter["revision"] == 2 and matter["materials"][-1]["problems"] == ["缺少本人页", "复印不清晰"]
    shown = doc(admin.get("/catalog/linshi"))
    assert "补充户口簿的审查标准" in shown.xpath('//table[@id="revisions"]')[0].text_content()


def test_field_errors_sit_beside_the_fields_and_a_stale_form_conflicts(login: Callable[[str], FlaskClient],
                                                                       demo_db: str) -> None:
    """A negative time limit is refused beside its field; a form opened before someone else saved is
    refused with 409 instead of saving over their change."""
    admin = login("admin1")
    data = {**form_of(admin, "tekun"), "due_workdays": "-3", "reason": "改时限"}
    refused = admin.post("/catalog/tekun/edit", data=data)
    assert refused.status_code == 422
    [field] = doc(refused).xpath('//input[@name="due_workdays"]/ancestor::div[contains(@class,"field")]')
    assert "has-error" in field.get("class") and "不能小于 0" in field.text_content()
    stale = form_of(admin, "tekun")
    engine = engine_for(demo_db)
    current = engine.catalog.get("tekun")
    engine.catalog.save("admin2", {**{k: current[k] for k in FIELDS}, "due_workdays": 35}, "别人先改", 1)
    conflict = admin.post("/catalog/tekun/edit", data={**stale, "due_workdays": "30", "reason": "我后改"})
    assert conflict.status_code == 409 and "已被他人修改" in conflict.data.decode()
    assert engine.catalog.get("tekun")["due_workdays"] == 35


def test_a_revision_shows_its_diff_and_can_be_restored(login: Callable[[str], FlaskClient], demo_db: str) -> None:
    """Revision 2 shows the time limit before and after; restoring revision 1 (reason required, asked to
    confirm) makes a revision 3 with the old content."""
    engine = engine_for(demo_db)
    current = engine.catalog.get("jiuye")
    engine.catalog.save("admin1", {**{k: current[k] for k in FIELDS}, "due_workdays": 12}, "定时限", 1)
    admin = login("admin1")
    diff = doc(admin.get("/catalog/jiuye/revisions/2"))
    [row] = diff.xpath('//table[@id="changes"]/tbody/tr')
    assert row.xpath("./th")[0].text_content().strip() == "办理时限（工作日）"
    assert [td.text_content().strip() for td in row.xpath("./td")] == ["—", "12"]
    first = doc(admin.get("/catalog/jiuye/revisions/1"))
    assert first.xpath('//form[@id="restore-form"]//button/@data-confirm')
    assert admin.post("/catalog/jiuye/revisions/1/restore", data={"reason": ""}).status_code == 422
    restored = admin.post("/catalog/jiuye/revisions/1/restore", data={"reason": "时限待县定"})
    assert restored.status_code == 302
    matter = engine.catalog.get("jiuye")
    assert (matter["revision"], matter["due_workdays"]) == (3, None)


def test_the_catalog_downloads_as_a_workbook(login: Callable[[str], FlaskClient]) -> None:
    """Staff download the catalog as XLSX (two sheets, Chinese headers) for review in a spreadsheet."""
    response = login("center1").get("/catalog/export.xlsx")
    assert response.status_code == 200 and "spreadsheetml" in response.content_type
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["事项清单", "所需材料"] and book["事项清单"].max_row == 17


def test_the_retention_is_edited_on_the_form_and_kept_by_other_edits(login: Callable[[str], FlaskClient],
                                                                      demo_db: str) -> None:
    """保管期限 is a select on the edit form: 永久 saved there shows on the matter, and a later edit of another
    field submits it unchanged."""
    admin = login("admin1")
    data = form_of(admin, "tekun")
    assert data["retention"] == "30y"
    assert admin.post("/catalog/tekun/edit", data={**data, "retention": "permanent",
                                                   "reason": "特困供养档案永久保存"}).status_code == 302
    facts = doc(admin.get("/catalog/tekun")).xpath('//dl[@id="matter-facts"]')[0].text_content()
    assert "保管期限永久" in "".join(facts.split())
    again = form_of(admin, "tekun")
    assert admin.post("/catalog/tekun/edit", data={**again, "place": "县社会救助中心", "reason": "写明地点"}
                      ).status_code == 302
    assert engine_for(demo_db).catalog.get("tekun")["retention"] == "permanent"
