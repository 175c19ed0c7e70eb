"""Example images (错误示例图片, R-6.1.3.2) in the pages: an administrator adds, keeps, replaces and removes one
on the matter's edit page (a bad file is refused and nothing typed is lost); the portal's guide and the
reviewer's 材料审查 show it; the image route serves only images of current matters, never a case's file."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.catalog.service import stored
from tests.support.content import PDF
from tests.support.images import FAKE_PNG, OTHER_PNG, PNG
from tests.support.web import DEMO_PASSWORD, form_of, make_app

SHA = hashlib.sha256(PNG).hexdigest()
INTAKE = {"kind": "application", "name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
          "township": "T01", "village": "T01V01", "address": "城东街道东湖社区3栋201室",
          "request": "因病住院，申请临时救助", "matters": ["linshi"]}


def doc(response: Any) -> Any:
    """The parsed HTML of a response."""
    return lxml.html.fromstring(response.data.decode())


def catalog(app: Flask) -> Any:
    """The app's own catalog service (its image store is the test's)."""
    return app.extensions["relief_engine"].catalog


@pytest.fixture
def admin(login: Callable[[str], FlaskClient]) -> FlaskClient:
    """The administrator, signed in."""
    return login("admin1")


@pytest.fixture
def pictured(admin: FlaskClient) -> FlaskClient:
    """临时救助's first material with PNG as its example image, saved through the edit page; the admin."""
    data = {**form_of(admin, "linshi"), "reason": "加错误示例图片", "materials-0-image": (io.BytesIO(PNG), "错例.png")}
    response = admin.post("/catalog/linshi/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.data.decode()
    return admin


def test_an_admin_adds_keeps_and_removes_an_example_image(pictured: FlaskClient, app: Flask) -> None:
    """The image saved from the edit page is on the matter and its page; an edit without a new file keeps it;
    删除图片 takes it off, and the revision's diff names 错误示例图片 with the file name."""
    admin, name = pictured, catalog(app).get("linshi")["materials"][0]["name"]
    assert catalog(app).get("linshi")["materials"][0]["example_image"] == {
        "sha256": SHA, "filename": "错例.png", "mime": "image/png"}
    [img] = doc(admin.get("/catalog/linshi")).xpath('//table[@id="materials"]//img')
    assert (img.get("src"), img.get("alt")) == (f"/catalog/example-images/{SHA}", f"错误示例图片：{name}")
    form = doc(admin.get("/catalog/linshi/edit")).xpath('//form[@id="matter-form"]')[0]
    assert form.get("enctype") == "multipart/form-data"
    assert form.xpath('.//input[@name="materials-0-image_sha256"]/@value') == [SHA]
    kept = {**form_of(admin, "linshi"), "materials-0-points": "核对签名", "reason": "补要点"}
    assert admin.post("/catalog/linshi/edit", data=kept).status_code == 302
    assert catalog(app).get("linshi")["materials"][0]["example_image"]["sha256"] == SHA
    removed = {**form_of(admin, "linshi"), "materials-0-remove_image": "true", "reason": "图片不合适"}
    assert admin.post("/catalog/linshi/edit", data=removed).status_code == 302
    matter = catalog(app).get("linshi")
    assert matter["revision"] == 4 and "example_image" not in matter["materials"][0]
    [row] = doc(admin.get("/catalog/linshi/revisions/4")).xpath('//table[@id="changes"]/tbody/tr')
    assert "错误示例图片" in row.xpath("./th")[0].text_content()
    assert "错误示例图片：错例.png" in row.xpath('./td[contains(@class, "removed")]')[0].text_content()


@pytest.mark.parametrize(("content", "filename", "expected"), [
    (PDF, "错例.pdf", "文件“错例.pdf”不是 JPG 或 PNG 图片"),
    (PDF, "错例.png", "文件“错例.png”不是 JPG 或 PNG 图片"),
    (FAKE_PNG, "错例.png", "不是 JPG 或 PNG 图片"),
    (PNG + bytes(2 * 1024 * 1024), "大图.png", "图片“大图.png”超过 2 MB"),
])
def test_a_bad_image_is_refused_and_everything_typed_stays(pictured: FlaskClient, app: Flask, content: bytes,
                                                           filename: str, expected: str) -> None:
    """A PDF (by name or in disguise), a fake PNG or one over 2 MB is refused with 422 beside the row's image
    field; the texts typed, the new row and the reason are all still there, the image kept so far too, and
    a good image chosen on another row is asked for again; nothing is saved."""
    admin = pictured
    data = form_of(admin, "linshi")
    blank = int(data["material_rows"]) - 3
    data.update({"materials-0-points": "核对签名与日期", f"materials-{blank}-name": "户口簿", "reason": "换图",
                 "materials-0-image": (io.BytesIO(content), filename),
                 "materials-1-image": (io.BytesIO(OTHER_PNG), "好图.png")})
    refused = admin.post("/catalog/linshi/edit", data=data, content_type="multipart/form-data")
    assert refused.status_code == 422
    page = doc(refused)
    [field] = page.xpath('//input[@name="materials-0-image"]/ancestor::div[contains(@class, "field")]')
    assert "has-error" in field.get("class") and expected in field.text_content()
    assert page.xpath('//textarea[@name="materials-0-points"]')[0].text_content() == "核对签名与日期"
    assert page.xpath(f'//input[@name="materials-{blank}-name"]/@value') == ["户口簿"]
    assert page.xpath('//input[@name="reason"]/@value') == ["换图"]
    assert page.xpath('//input[@name="materials-0-image_sha256"]/@value') == [SHA]
    assert page.xpath('//div[@id="material-1"]//p[contains(@class, "image-lost")]')
    assert not page.xpath('//div[@id="material-0"]//p[contains(@class, "image-lost")]')
    matter = catalog(app).get("linshi")
    assert matter["revision"] == 2 and matter["materials"][0]["example_image"]["sha256"] == SHA


def test_the_guide_and_the_image_route_show_it_to_the_public(pictured: FlaskClient, client: FlaskClient,
                                                             app: Flask) -> None:
    """Signed out, the guide shows the image beside the material's 错误示例 with its alt text, and the route
    serves it as image/png with nosniff and public caching."""
    name = catalog(app).get("linshi")["materials"][0]["name"]
    [img] = doc(client.get("/portal/guide/linshi")).xpath('//li[@id="material-1"]//dd[contains(@class, "wrong")]/img')
    assert (img.get("src"), img.get("alt")) == (f"/portal/catalog-image/{SHA}", f"错误示例图片：{name}")
    response = client.get(f"/portal/catalog-image/{SHA}")
    assert response.status_code == 200 and response.data == PNG and response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.cache_control.public and response.cache_control.max_age == 3600
    assert client.get(f"/catalog/example-images/{SHA}").status_code == 302  # staff route: sign in first


def test_a_case_file_is_never_served_as_a_catalog_image(pictured: FlaskClient, login: Callable[[str], FlaskClient],
                                                        tmp_path: Path, client: FlaskClient) -> None:
    """A material uploaded with an application is stored by its hash, yet that hash answers 404 on the public
    and the staff image route alike (the catalog's store is not the uploads)."""
    clerk = login("clerk_v")
    data = {**INTAKE, "files": (io.BytesIO(OTHER_PNG), "申请书.png")}
    assert clerk.post("/intake/new", data=data, content_type="multipart/form-data").status_code == 302
    case_file = hashlib.sha256(OTHER_PNG).hexdigest()
    assert (tmp_path / "uploads" / case_file).read_bytes() == OTHER_PNG
    assert client.get(f"/portal/catalog-image/{case_file}").status_code == 404
    assert pictured.get(f"/catalog/example-images/{case_file}").status_code == 404
    assert client.get("/portal/catalog-image/not-a-hash").status_code == 404


def test_an_image_only_a_disabled_matter_refers_to_is_not_public(pictured: FlaskClient, client: FlaskClient,
                                                                 app: Flask) -> None:
    """Once its matter is 停用 the image answers 404 to the public but still shows to staff; once no matter
    refers to it, to nobody."""
    service = catalog(app)
    matter = service.get("linshi")
    service.save("admin1", {**stored(matter), "status": "disabled"}, "本县暂停", matter["revision"])
    assert client.get(f"/portal/catalog-image/{SHA}").status_code == 404
    staff = pictured.get(f"/catalog/example-images/{SHA}")
    assert staff.status_code == 200 and staff.data == PNG and staff.cache_control.private
    matter = service.get("linshi")
    record = stored(matter)
    record["materials"][0].pop("example_image")
    service.save("admin1", record, "去掉图片", matter["revision"])
    assert pictured.get(f"/catalog/example-images/{SHA}").status_code == 404


def test_the_reviewer_sees_the_image_beside_the_wrong_example(pictured: FlaskClient, app: Flask,
                                                              login: Callable[[str], FlaskClient]) -> None:
    """On 一门受理·初步研判 the material's review standard shows its example image, linked to the full picture."""
    clerk = login("clerk_v")
    response = clerk.post("/intake/new", data=INTAKE, content_type="multipart/form-data")
    case_no = response.headers["Location"].rsplit("/", 1)[1]
    engine = app.extensions["relief_engine"]
    [task] = [t for t in engine.queries.list_tasks(case_no=case_no) if t["form_key"] == "triage"]
    page = doc(login("center1").get(f"/tasks/{task['id']}"))
    name = catalog(app).get("linshi")["materials"][0]["name"]
    [img] = page.xpath('//table[@id="review-table"]/tbody/tr[1]/td[@class="standard"]//a/img')
    assert (img.get("src"), img.get("alt")) == (f"/catalog/example-images/{SHA}", f"错误示例图片：{name}")
    assert not page.xpath('//table[@id="review-table"]/tbody/tr[2]//img')


def test_the_multipart_edit_form_needs_its_csrf_token(demo_db: str, tmp_path: Path) -> None:
    """With CSRF on, the edit form with an image and without the page's token is refused (400); with the token
    the form carries, it is saved."""
    app = make_app(demo_db, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = doc(client.get("/login")).xpath('//input[@name="csrf_token"]/@value')[0]  # one per session
    client.post("/login", data={"username": "admin1", "password": DEMO_PASSWORD, "csrf_token": token})
    data = {**form_of(client, "linshi"), "reason": "加图"}
    assert data["csrf_token"]
    without = {k: v for k, v in data.items() if k != "csrf_token"}
    image = {"materials-0-image": (io.BytesIO(PNG), "错例.png")}
    assert client.post("/catalog/linshi/edit", data={**without, **image},
                       content_type="multipart/form-data").status_code == 400
    image = {"materials-0-image": (io.BytesIO(PNG), "错例.png")}
    assert client.post("/catalog/linshi/edit", data={**data, **image},
                       content_type="multipart/form-data").status_code == 302
    assert catalog(app).get("linshi")["materials"][0]["example_image"]["sha256"] == SHA


def test_restoring_an_image_the_store_lost_is_refused_saying_so(pictured: FlaskClient, app: Flask,
                                                                 tmp_path: Path) -> None:
    """Restoring the revision with the image after its file left the store is refused on the revision page
    with the reason in Chinese, and makes no revision; with the file back, the restore brings the image."""
    admin = pictured
    removed = {**form_of(admin, "linshi"), "materials-0-remove_image": "true", "reason": "图片不合适"}
    assert admin.post("/catalog/linshi/edit", data=removed).status_code == 302
    stored_file = tmp_path / "catalog-images" / SHA
    stored_file.unlink()
    refused = admin.post("/catalog/linshi/revisions/2/restore", data={"reason": "恢复图片"})
    assert refused.status_code == 422
    [message] = doc(refused).xpath('//div[@class="form-errors"]/p/text()')
    assert "错误示例图片“错例.png”不在事项清单的图片库中" in message
    assert catalog(app).get("linshi")["revision"] == 3
    stored_file.write_bytes(PNG)
    assert admin.post("/catalog/linshi/revisions/2/restore", data={"reason": "恢复图片"}).status_code == 302
    assert catalog(app).get("linshi")["materials"][0]["example_image"]["sha256"] == SHA
