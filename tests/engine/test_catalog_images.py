"""A material's example image (错误示例图片, R-6.1.3.2): JPG or PNG by content, size-limited, stored by SHA-256
apart from the cases' files, part of the matter's revision (diff, restore), carried by reference in the
catalog files, served only while a current matter refers to it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cases.materials import Upload
from engine.cases.runtime import CaseEngine
from engine.catalog import exchange
from engine.catalog.service import change_text, stored
from engine.errors import InvalidData, NotFound
from engine.settings import Settings, SettingsError
from tests.support.cases import applicant
from tests.support.content import PDF
from tests.support.db import engine_for
from tests.support.images import FAKE_PNG, JPEG, OTHER_PNG, PNG


@pytest.fixture
def images_dir(tmp_path: Path) -> Path:
    """The catalog's image store of the test (empty)."""
    return tmp_path / "catalog-images"


@pytest.fixture
def engine(clean_db: str, images_dir: Path, tmp_path: Path) -> CaseEngine:
    """An engine whose catalog stores images in `images_dir`, at most 1 MB each, and cases' files apart."""
    return engine_for(clean_db, CATALOG_IMAGE_DIR=str(images_dir), CATALOG_IMAGE_MAX_MB="1",
                      UPLOAD_DIR=str(tmp_path / "uploads"))


@pytest.fixture
def case_engine(engine: CaseEngine, clean_db: str, images_dir: Path, tmp_path: Path) -> CaseEngine:
    """The same settings with the demo county and the linkage process, to take applications with files."""
    return engine_for(clean_db, deploy=True, county=True, CATALOG_IMAGE_DIR=str(images_dir),
                      UPLOAD_DIR=str(tmp_path / "uploads"))


def with_image(engine: CaseEngine, code: str, content: bytes = PNG, filename: str = "错误示例.png",
               index: int = 0, reason: str = "加错误示例图片") -> dict[str, Any]:
    """Give material `index` of a matter an example image, as the edit page does; return the matter."""
    matter = engine.catalog.get(code)
    return engine.catalog.save("admin1", stored(matter), reason, matter["revision"],
                               images={index: Upload(filename, content)})


def without_image(engine: CaseEngine, code: str, index: int = 0) -> dict[str, Any]:
    """Take the example image off material `index` of a matter; return the matter."""
    matter = engine.catalog.get(code)
    record = stored(matter)
    record["materials"][index] = {k: v for k, v in record["materials"][index].items() if k != "example_image"}
    return engine.catalog.save("admin1", record, "去掉图片", matter["revision"])


def test_an_image_is_taken_by_its_content_and_stored_by_its_hash(engine: CaseEngine, images_dir: Path) -> None:
    """A PNG becomes the material's reference {sha256, filename, mime} in a new revision and a file in the
    store named by its hash; a JPEG named .png is recorded as the JPEG it is."""
    saved = with_image(engine, "dibao", filename="C:\\扫描\\身份证反面.png")
    digest = hashlib.sha256(PNG).hexdigest()
    assert saved["revision"] == 2
    assert saved["materials"][0]["example_image"] == {"sha256": digest, "filename": "身份证反面.png",
                                                      "mime": "image/png"}
    assert (images_dir / digest).read_bytes() == PNG
    assert "example_image" not in saved["materials"][1]
    jpeg = with_image(engine, "dibao", JPEG, "看起来是.png", index=1)
    assert jpeg["materials"][1]["example_image"]["mime"] == "image/jpeg"
    assert jpeg["materials"][0]["example_image"]["sha256"] == digest  # the other one is kept


@pytest.mark.parametrize(("content", "filename", "expected"), [
    (PDF, "示例.pdf", "不是 JPG 或 PNG 图片"),
    (PDF, "示例.png", "不是 JPG 或 PNG 图片"),
    (FAKE_PNG, "示例.png", "不是 JPG 或 PNG 图片"),
    (b"GIF89a" + bytes(20), "示例.jpg", "不是 JPG 或 PNG 图片"),
    (b"", "示例.png", "是空文件"),
    (PNG + bytes(1024 * 1024), "大图.png", "超过 1 MB"),
])
def test_a_bad_image_is_refused_and_nothing_is_written(engine: CaseEngine, images_dir: Path, content: bytes,
                                                       filename: str, expected: str) -> None:
    """A PDF (whatever its name), a fake PNG, a GIF, an empty file or one over the limit is refused in Chinese
    beside its material's image field; no revision, no file."""
    with pytest.raises(InvalidData) as refused:
        with_image(engine, "dibao", content, filename, index=2)
    assert list(refused.value.errors) == ["materials.2.example_image"]
    assert expected in refused.value.errors["materials.2.example_image"][0]
    assert engine.catalog.get("dibao")["revision"] == 1
    assert not images_dir.exists() or not any(images_dir.iterdir())


def test_the_diff_names_the_image_and_restoring_brings_it_back(engine: CaseEngine) -> None:
    """Adding, replacing and removing an image are changes of the material's 错误示例图片; restoring the
    revision that had it makes it the material's image again, and the image is served again."""
    first = with_image(engine, "linshi")["materials"][0]
    name, sha256 = first["name"], first["example_image"]["sha256"]
    added = engine.catalog.revisions("linshi")[0]["changes"]
    assert [change_text(c) for c in added] == [f"所需材料：{name}（错误示例图片）"]
    replaced = with_image(engine, "linshi", OTHER_PNG, "另一张.png")["materials"][0]["example_image"]
    assert replaced["sha256"] != sha256 and engine.catalog.revisions("linshi")[0]["changes"][0]["parts"] == [
        "错误示例图片"]
    without_image(engine, "linshi")
    assert "example_image" not in engine.catalog.get("linshi")["materials"][0]
    with pytest.raises(NotFound):
        engine.catalog.example_image(sha256)
    restored = engine.catalog.restore("admin1", "linshi", 2, "图片删错了")
    assert restored["revision"] == 5 and restored["materials"][0]["example_image"] == first["example_image"]
    assert engine.catalog.example_image(sha256).path.read_bytes() == PNG


def case_file(engine: CaseEngine, content: bytes, uploads: Path) -> str:
    """Register an application with one uploaded file; return the file's hash (stored among the uploads)."""
    engine.start_case(applicant(), "window", "village", uploads=[Upload("申请书.png", content)])
    sha256 = hashlib.sha256(content).hexdigest()
    assert (uploads / sha256).read_bytes() == content
    return sha256


def test_an_imported_reference_must_name_an_image_of_the_store(case_engine: CaseEngine, tmp_path: Path) -> None:
    """Importing may only point at an image the catalog's store holds: an unknown hash, or the hash of a case's
    uploaded file, is refused naming the entry and material, and nothing is written; a known one is taken,
    its type from the stored file, and a type that contradicts the file is refused."""
    catalog = case_engine.catalog
    for sha256 in ("0" * 64, case_file(case_engine, PNG, tmp_path / "uploads")):
        records = catalog.export()
        records[0]["materials"][0]["example_image"] = {"sha256": sha256, "filename": "冒充.png", "mime": "image/png"}
        with pytest.raises(InvalidData) as refused:
            catalog.import_records("cli", records, "年度复核")
        [(where, [message])] = refused.value.errors.items()
        assert where == "第 1 条（dibao） materials.0.example_image"
        assert "错误示例图片“冒充.png”不在事项清单的图片库中" in message and "重新上传" in message
        assert catalog.get("dibao")["revision"] == 1
    known = with_image(case_engine, "tekun", JPEG, "样例.jpg")["materials"][0]["example_image"]
    records = catalog.export()
    records[0]["materials"][0]["example_image"] = {**known, "mime": "image/png"}
    with pytest.raises(InvalidData, match="导入文件有误") as wrong_type:
        catalog.import_records("cli", records, "年度复核")
    assert "类型应为 image/jpeg" in wrong_type.value.errors["第 1 条（dibao） materials.0.example_image"][0]
    records[0]["materials"][0]["example_image"] = {"sha256": known["sha256"].upper(), "filename": "样例.jpg"}
    assert catalog.import_records("cli", records, "年度复核")["updated"] == ["dibao"]
    assert catalog.get("dibao")["materials"][0]["example_image"] == known


@pytest.mark.parametrize("kind", ["yaml", "xlsx"])
def test_the_catalog_files_carry_the_reference_and_read_back_unchanged(engine: CaseEngine, kind: str) -> None:
    """YAML keeps {sha256, filename, mime}; the workbook's 错误示例图片 cell shows the file name over the hash;
    importing either unchanged makes no revision."""
    reference = with_image(engine, "dibao")["materials"][0]["example_image"]
    content = exchange.dump(engine.catalog.export(), kind)
    if kind == "yaml":
        assert yaml.safe_load(content)[0]["materials"][0]["example_image"] == reference
    else:
        from io import BytesIO

        from openpyxl import load_workbook

        sheet = load_workbook(BytesIO(content))["所需材料"]
        column = [c.value for c in sheet[1]].index("错误示例图片") + 1
        assert sheet.cell(2, column).value == f"错误示例.png\n{reference['sha256']}"
        assert sheet.cell(3, column).value is None
    outcome = engine.catalog.import_records("cli", exchange.load(content, kind), "原样导入")
    assert outcome["updated"] == [] and len(outcome["unchanged"]) == 16


def test_a_workbook_cell_that_lost_its_hash_is_refused(engine: CaseEngine) -> None:
    """A 错误示例图片 cell left with only a file name names no image: the import is refused saying what is
    missing, and nothing is written."""
    from io import BytesIO

    from openpyxl import load_workbook

    with_image(engine, "dibao")
    book = load_workbook(BytesIO(exchange.dump(engine.catalog.export(), "xlsx")))
    sheet = book["所需材料"]
    sheet.cell(2, [c.value for c in sheet[1]].index("错误示例图片") + 1).value = "错误示例.png"
    edited = BytesIO()
    book.save(edited)
    with pytest.raises(InvalidData) as refused:
        engine.catalog.import_records("cli", exchange.load(edited.getvalue(), "xlsx"), "年度复核")
    assert refused.value.errors == {
        "第 1 条（dibao） materials.0.example_image": ["错误示例图片应以 SHA-256（64 位十六进制）指明图片库中的图片"]}
    assert engine.catalog.get("dibao")["revision"] == 2


def test_only_an_image_of_a_current_selectable_matter_is_served(case_engine: CaseEngine, tmp_path: Path) -> None:
    """The public gets an image while a matter that is not disabled refers to it; staff also while only a
    disabled one does; never a case's uploaded file by its hash, nor a malformed hash."""
    sha256 = with_image(case_engine, "linshi")["materials"][0]["example_image"]["sha256"]
    catalog = case_engine.catalog
    assert catalog.example_image(sha256).mime == "image/png"
    matter = catalog.get("linshi")
    catalog.save("admin1", {**stored(matter), "status": "disabled"}, "本县暂停", matter["revision"])
    with pytest.raises(NotFound):
        catalog.example_image(sha256)
    assert catalog.example_image(sha256, public=False).path.read_bytes() == PNG
    for wanted in (case_file(case_engine, OTHER_PNG, tmp_path / "uploads"), "../" + sha256[3:], sha256.upper()):
        for public in (True, False):
            with pytest.raises(NotFound):
                catalog.example_image(wanted, public)


def test_the_image_store_may_not_be_the_upload_directory(tmp_path: Path) -> None:
    """Pointing the catalog's image store at the cases' upload directory is a settings error, not a leak."""
    with pytest.raises(SettingsError, match="CATALOG_IMAGE_DIR"):
        Settings.from_mapping({"UPLOAD_DIR": str(tmp_path / "files"), "CATALOG_IMAGE_DIR": str(tmp_path / "files")})
