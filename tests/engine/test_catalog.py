"""The matter catalog in the database (事项清单 R-6.1.3.1, 审查标准 R-6.1.3.2): seeded once from
data/matters.yaml, changed only as revisions (who, when, why, before and after), restorable, checked
by one schema, read by intake and forms from the database."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import db
from engine.catalog import exchange
from engine.catalog.records import FIELDS
from engine.catalog.service import MatterCatalog
from engine.errors import InvalidData, NotFound, TaskConflict
from engine.models import AuditLog, Matter, MatterRevision
from engine.reference import ReferenceDataError
from engine.settings import PROJECT_ROOT, Settings
from tests.support.cli import relief
from tests.support.db import tx

DEPARTMENTS = {"minzheng", "yibao", "jiaoyu", "canlian", "zhujian", "renshe", "hongshizihui", "zonggonghui",
               "sifa", "yingji"}


def catalog_on(url: str, data_dir: Path | None = None) -> MatterCatalog:
    """A catalog service on `url` (the data directory of the suite unless given)."""
    overrides = {"DATABASE_URL": url, **({"DATA_DIR": str(data_dir)} if data_dir else {})}
    return MatterCatalog(Settings.from_environ(**overrides), db.session_factory(url))


def edited(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `record`'s stored fields with `changes`."""
    return {**{k: record[k] for k in FIELDS}, **changes}


def test_first_setup_takes_the_sixteen_matters_of_the_yaml(clean_db: str) -> None:
    """R-6.1.3.1: the seed holds DOMAIN.md's 16 matters with the standard's seven fields and the platform's;
    the eight entries marked 待县确认 in the file are 待县确认, 低保 and 特困 are publicly noticed."""
    catalog = catalog_on(clean_db)
    matters = catalog.matters()
    assert len(matters) == 16 and [m["code"] for m in matters][:2] == ["dibao", "dibao_bianyuan"]
    assert all(set(FIELDS) <= set(m) and m["revision"] == 1 and m["updated_by"] == "system" for m in matters)
    assert {m["department"] for m in matters} <= DEPARTMENTS
    assert sum(m["status"] == "unconfirmed" for m in matters) == 8
    by_code = {m["code"]: m for m in matters}
    assert by_code["dibao"]["noticed"] and by_code["tekun"]["noticed"] and not by_code["linshi"]["noticed"]
    assert by_code["dibao"]["process_key"] == "relief_linkage"
    material = by_code["dibao"]["materials"][-1]
    assert material == {"name": "疾病或残疾证明（如有）", "form": "copy", "required": False, "points": "",
                        "problems": [], "wrong_example": "", "field_work": "none"}
    assert catalog.ensure_seeded() == 0  # never twice


@pytest.mark.parametrize(("name", "department", "due_workdays"), [
    ("最低生活保障", "minzheng", 30), ("特困人员供养", "minzheng", 40), ("临时救助", "minzheng", 15),
    ("医疗救助", "yibao", None), ("法律援助", "sifa", 10), ("红十字人道救助", "hongshizihui", 20),
    ("受灾人员救助", "yingji", None)])
def test_matters_keep_the_departments_and_time_limits_of_domain(clean_db: str, name: str, department: str,
                                                                 due_workdays: int | None) -> None:
    """Each matter carries DOMAIN.md's department and typical time limit, null where none is given."""
    by_name = {m["name"]: m for m in catalog_on(clean_db).matters()}
    assert (by_name[name]["department"], by_name[name]["due_workdays"]) == (department, due_workdays)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("department: sifa", "department: fayuan", "不是已知的部门代码：fayuan"),
    ("due_workdays: 10", "due_workdays: true", "类型不正确"),
    ("due_workdays: 10", "due_workdays: -1", "不能小于 0"),
    ("assistance_type: qita\n  noticed: false\n  status: active\n\n- code: kunnan",
     "assistance_type: guoji\n  noticed: false\n  status: active\n\n- code: kunnan", "不是已知的救助类别：guoji"),
])
def test_a_malformed_seed_is_refused_naming_the_entry(clean_db: str, tmp_path: Path, old: str, new: str,
                                                      expected: str) -> None:
    """A seed file the check refuses stops set-up with the entry and the problem, and writes nothing."""
    for name in ("departments.yaml", "roles.yaml", "matters.yaml", "assistance_types.yaml"):
        shutil.copy(PROJECT_ROOT / "data" / name, tmp_path / name)
    path = tmp_path / "matters.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with tx(clean_db) as session:
        session.execute(MatterRevision.__table__.delete())
        session.execute(Matter.__table__.delete())
    with pytest.raises(ReferenceDataError, match=expected) as info:
        catalog_on(clean_db, tmp_path).ensure_seeded()
    assert "matters.yaml" in str(info.value)
    with tx(clean_db) as session:
        assert session.scalars(select(Matter)).first() is None


def test_an_edit_is_a_revision_with_who_when_why_and_the_diff(clean_db: str) -> None:
    """R-6.1.3.2: an administrator adds a material with its review standard; the change is revision 2 with
    the reason, the record before and after, the changed material named, and an audit entry."""
    catalog = catalog_on(clean_db)
    dibao = catalog.get("dibao")
    standard = {"name": "户口簿", "form": "original", "required": True, "points": "核对户主页与本人页",
                "problems": "缺少本人页\n复印不清晰", "wrong_example": "只提交户主页", "field_work": "none"}
    saved = catalog.save("admin1", edited(dibao, materials=[*dibao["materials"], standard]), " 补充审查标准 ", 1)
    assert saved["revision"] == 2 and saved["updated_by"] == "admin1"
    assert saved["materials"][-1]["problems"] == ["缺少本人页", "复印不清晰"]
    newest = catalog.revisions("dibao")[0]
    assert (newest["revision"], newest["actor"], newest["reason"]) == (2, "admin1", "补充审查标准")
    assert [(c["label"], c.get("material")) for c in newest["changes"]] == [("所需材料", "户口簿")]
    assert newest["before"]["materials"] == dibao["materials"]
    with tx(clean_db) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "matter_changed")
                                .order_by(AuditLog.id.desc())).first()
        assert entry is not None and entry.target == "dibao" and entry.details["revision"] == 2


def test_a_stale_edit_conflicts_and_an_empty_one_is_refused(clean_db: str) -> None:
    """Two administrators on the same revision: the second save is refused, not lost over the first;
    a save that changes nothing, or has no reason, makes no revision."""
    catalog = catalog_on(clean_db)
    linshi = catalog.get("linshi")
    catalog.save("admin1", edited(linshi, place="县社会救助中心一号窗口"), "补充窗口", 1)
    with pytest.raises(TaskConflict, match="已被他人修改"):
        catalog.save("admin2", edited(linshi, due_workdays=10), "改时限", 1)
    with pytest.raises(InvalidData) as empty:
        catalog.save("admin1", edited(catalog.get("linshi")), "无变化", 2)
    assert empty.value.errors == {"_form": ["没有修改任何内容"]}
    with pytest.raises(InvalidData) as no_reason:
        catalog.save("admin1", edited(linshi, due_workdays=10), "  ", 2)
    assert "reason" in no_reason.value.errors
    assert [r["revision"] for r in catalog.revisions("linshi")] == [2, 1]


def test_field_errors_are_chinese_and_point_at_the_material(clean_db: str) -> None:
    """The one check names each bad field in Chinese, a material's by its row; nothing is written."""
    catalog = catalog_on(clean_db)
    bad = edited(catalog.get("tekun"), name=" ", department="fayuan", status="gone",
                 materials=[{"name": "申请书", "form": "fax"}, {"name": "申请书"}])
    with pytest.raises(InvalidData) as refused:
        catalog.save("admin1", bad, "试错", 1)
    errors = refused.value.errors
    assert errors["name"] == ["不能为空"] and errors["department"] == ["不是已知的部门代码：fayuan"]
    assert errors["status"][0].startswith("取值无效") and errors["materials.0.form"][0].startswith("取值无效")
    assert errors["materials.1.name"] == ["材料重复：申请书"]
    assert catalog.get("tekun")["revision"] == 1


def test_a_new_matter_and_restoring_an_old_revision(clean_db: str) -> None:
    """A matter is created as revision 1 at the catalog's end; restoring revision 1 of another matter
    makes its content current again as a new revision (nothing is rewritten in place)."""
    catalog = catalog_on(clean_db)
    new = edited(catalog.get("linshi"), code="jiating_jiaoyu_buzhu", name="困难家庭子女教育补助",
                 assistance_type="jiaoyu", department="jiaoyu")
    created = catalog.save("admin1", new, "县里新增事项")
    assert created["revision"] == 1 and catalog.matters()[-1]["code"] == "jiating_jiaoyu_buzhu"
    with pytest.raises(InvalidData, match="已存在"):
        catalog.save("admin1", new, "再建一次")
    original = catalog.get("jiuye")
    catalog.save("admin1", edited(original, content="公益性岗位安置"), "改内容", 1)
    restored = catalog.restore("admin1", "jiuye", 1, "改错了，恢复")
    assert restored["revision"] == 3 and restored["content"] == original["content"]
    assert catalog.revisions("jiuye")[0]["changes"][0]["after"] == original["content"]
    with pytest.raises(NotFound):
        catalog.restore("admin1", "jiuye", 9, "不存在的版本")


def test_a_change_is_seen_by_every_process_at_once(clean_db: str) -> None:
    """Two engines (two server processes) on one database: a change by one is what the other's intake
    checks against on its next read; a disabled (停用) matter can no longer be named by new input."""
    first, second = catalog_on(clean_db), catalog_on(clean_db)
    assert second.reference.unknown_matters(["hongshizi"]) == []
    first.save("admin1", edited(first.get("hongshizi"), status="disabled"), "本县暂停", 1)
    assert second.get("hongshizi")["status"] == "disabled"
    assert second.reference.unknown_matters(["hongshizi"]) == ["hongshizi"]
    assert second.reference.matter_name("hongshizi") == "红十字人道救助"  # old cases still show its name


def test_import_is_all_or_nothing_and_keeps_the_file_order(clean_db: str) -> None:
    """A catalog file is checked whole: one bad entry and nothing is written; a good one creates,
    revises and reorders, leaving what is unchanged without a revision."""
    catalog = catalog_on(clean_db)
    records = catalog.export()
    records[0] = {**records[0], "due_workdays": -5}
    with pytest.raises(InvalidData) as refused:
        catalog.import_records("cli", records, "年度复核")
    assert list(refused.value.errors) == ["第 1 条（dibao） due_workdays"]
    assert catalog.get("dibao")["revision"] == 1
    records = catalog.export()
    records[0], records[1] = records[1], {**records[0], "place": "县社会救助中心"}
    outcome = catalog.import_records("cli", records, "年度复核")
    assert outcome["updated"] == ["dibao_bianyuan", "dibao"] and len(outcome["unchanged"]) == 14
    assert [m["code"] for m in catalog.matters()][:2] == ["dibao_bianyuan", "dibao"]
    assert catalog.get("tekun")["revision"] == 1


# -- the command line: relief matter list|show|export|import ---------------------------------------


def test_cli_lists_and_shows_matters_as_json(clean_db: str) -> None:
    """`relief matter list --json` is the catalog in order; `show --revisions` adds who changed what."""
    listed = relief("matter", "list", database_url=clean_db)
    assert [m["code"] for m in listed][:3] == ["dibao", "dibao_bianyuan", "tekun"] and len(listed) == 16
    shown = relief("matter", "show", "falv_yuanzhu", "--revisions", database_url=clean_db)
    assert shown["department"] == "sifa" and shown["revisions"][0]["actor"] == "system"
    missing = relief("matter", "show", "nope", database_url=clean_db, expect=1)
    assert missing["error"] == "not_found"


@pytest.mark.parametrize("suffix", [".yaml", ".xlsx"])
def test_cli_export_then_import_round_trips(clean_db: str, tmp_path: Path, suffix: str) -> None:
    """A county exports the catalog, edits the file (a spreadsheet with Chinese labels, or YAML) and
    imports it: what it changed becomes revisions, the rest is untouched, and the file read back equals
    what was exported."""
    path = tmp_path / f"catalog{suffix}"
    assert relief("matter", "export", str(path), database_url=clean_db)["matters"] == 16
    kind = exchange.kind_of(path)
    records = exchange.load(path.read_bytes(), kind)
    assert records == catalog_on(clean_db).export()
    records[2]["due_workdays"] = 35
    records[2]["materials"][0]["problems"] = ["未签字", "日期缺失"]
    path.write_bytes(exchange.dump(records, kind))
    result = relief("matter", "import", str(path), "--reason", "年度复核", "--by", "admin1", database_url=clean_db)
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 15)
    tekun = catalog_on(clean_db).get("tekun")
    assert tekun["due_workdays"] == 35 and tekun["materials"][0]["problems"] == ["未签字", "日期缺失"]
    assert tekun["revision"] == 2 and tekun["updated_by"] == "admin1"


def test_a_spreadsheet_with_labels_and_errors(clean_db: str, tmp_path: Path) -> None:
    """In the workbook coded fields are Chinese labels (原件核验, 在用, 是); a bad cell is refused with the
    entry named and nothing written; a file that is not a workbook is refused in Chinese."""
    from openpyxl import load_workbook

    path = tmp_path / "catalog.xlsx"
    relief("matter", "export", str(path), database_url=clean_db)
    book = load_workbook(path)
    header = [c.value for c in book["事项清单"][1]]
    assert book["事项清单"].cell(2, header.index("状态") + 1).value == "在用"
    materials = book["所需材料"]
    assert [c.value for c in materials[1]][:3] == ["事项代码", "材料名称", "审查形式"]
    assert materials.cell(2, 3).value == "复印件"
    book["事项清单"].cell(2, header.index("办理时限（工作日）") + 1).value = "三十天"
    book.save(path)
    refused = relief("matter", "import", str(path), "--reason", "试", database_url=clean_db, expect=1)
    assert list(refused["errors"]) == ["第 1 条（dibao） due_workdays"]
    assert catalog_on(clean_db).get("dibao")["revision"] == 1
    bogus = tmp_path / "bogus.xlsx"
    bogus.write_bytes(b"not a zip")
    assert "无法读取" in relief("matter", "import", str(bogus), "--reason", "试", database_url=clean_db,
                                expect=1)["message"]


def test_each_matter_has_a_retention_for_its_archives(clean_db: str, tmp_path: Path) -> None:
    """保管期限: the seed's matters take the default 30年; an unknown value is refused; the workbook writes the
    label (永久) and reads it back as the code."""
    from openpyxl import load_workbook

    catalog = catalog_on(clean_db)
    assert {m["retention"] for m in catalog.matters()} == {"30y"}
    with pytest.raises(InvalidData) as refused:
        catalog.save("admin1", edited(catalog.get("tekun"), retention="forever"), "试错", 1)
    assert refused.value.errors["retention"][0].startswith("取值无效")
    catalog.save("admin1", edited(catalog.get("tekun"), retention="permanent"), "特困供养档案永久保存", 1)
    path = tmp_path / "catalog.xlsx"
    relief("matter", "export", str(path), database_url=clean_db)
    book = load_workbook(path)
    header = [c.value for c in book["事项清单"][1]]
    rows = {row[0].value: row[header.index("保管期限")].value for row in book["事项清单"].iter_rows(min_row=2)}
    assert rows["tekun"] == "永久" and rows["dibao"] == "30年"
    [tekun] = [r for r in exchange.load(path.read_bytes(), "xlsx") if r["code"] == "tekun"]
    assert tekun["retention"] == "permanent"
