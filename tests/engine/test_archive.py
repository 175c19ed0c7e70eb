"""电子化归档 (R-6.1.2.2): an ended case is due in the step that ends it and archived by the deadline tick — a
PDF case file with the masked application, every step, the 材料审查 verdicts and the history, a copy of each
material and a manifest of SHA-256s, written once; a correction adds a version; verify finds any change."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.archive import store as register
from engine.catalog.service import stored
from engine.errors import Forbidden, InvalidData, TaskConflict
from engine.models import AuditLog
from tests.support.archive import PNG, build, folder, pdf_text, reviewed_case
from tests.support.cases import applicant, open_task, start
from tests.support.cli import relief
from tests.support.db import engine_for, principal, tx

RAW_ID, RAW_PHONE = "34052419800101001X", "13800138000"
PROOF_SHORT = "致困原因证明"


@pytest.fixture
def archiving(clean_db: str, tmp_path: Path) -> Any:
    """An engine with the linkage flow and the demo county whose uploads and archives are this test's own."""
    return engine_for(clean_db, deploy=True, county=True, ARCHIVE_DIR=str(tmp_path / "archive"),
                      UPLOAD_DIR=str(tmp_path / "uploads"))


def cli(engine: Any, *args: str, expect: int = 0) -> Any:
    """`relief --json …` on the engine's database and directories."""
    return relief(*args, database_url=engine.database_url, expect=expect,
                  ARCHIVE_DIR=str(engine.settings.archive_dir), UPLOAD_DIR=str(engine.settings.upload_dir))


def writable(path: Path) -> Path:
    """An archived (read-only) file made writable again, as someone tampering with it would."""
    os.chmod(path, 0o644)
    return path


def test_the_step_that_ends_a_case_makes_it_due_and_the_tick_archives_it(archiving: Any) -> None:
    """Right after 办结 version 1 is pending (the step rendered nothing); the tick writes the PDF, both
    materials and a manifest listing each file with its SHA-256, numbered 2026-linshi-0001 with the
    default 保管期限; a second case of the year and matter gets 0002."""
    case_no = reviewed_case(archiving)
    with tx(archiving.database_url) as session:
        [due] = register.versions(session.connection(), case_no)
    assert (due["version"], due["status"], due["path"]) == (1, "pending", None)
    report = build(archiving)
    [built] = report["archives_built"]
    year = clock.local_aware(clock.now()).year
    assert built["archive_no"] == f"{year}-linshi-0001" and report["archive_failures"] == []
    where = folder(archiving, case_no)
    manifest = json.loads((where / "manifest.json").read_bytes())
    assert {f["path"] for f in manifest["files"]} == {"casefile.pdf", "materials/01-申请书.pdf",
                                                      "materials/02-住院票据.png"}
    for entry in manifest["files"]:
        assert hashlib.sha256((where / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert (where / "materials/02-住院票据.png").read_bytes() == PNG
    [shown] = archiving.archives.show(case_no)["versions"]
    assert shown["status"] == "archived" and shown["retention"] == "30y"
    assert shown["manifest_sha256"] == hashlib.sha256((where / "manifest.json").read_bytes()).hexdigest()
    assert [e["type"] for e in archiving.queries.show_case(case_no)["history"]][-1] == "case_archived"
    second = reviewed_case(archiving)
    assert build(archiving)["archives_built"][0]["archive_no"] == f"{year}-linshi-0002"
    assert build(archiving)["archives_built"] == []  # nothing is archived twice
    assert second != case_no


def test_the_pdf_holds_the_case_in_chinese_with_its_verdicts_and_never_the_raw_id(archiving: Any) -> None:
    """The text read back from the PDF has the cover (档号, case number, matter, 保管期限), the masked applicant,
    each step with who decided, the verdicts 合格/需补正 with the problem, the materials and the history —
    and neither the applicant's full ID number nor phone."""
    case_no = reviewed_case(archiving)
    build(archiving)
    text = pdf_text(folder(archiving, case_no) / "casefile.pdf")
    for expected in ("社会救助案卷", case_no, "linshi-0001", "临时救助", "保管期限", "30年", "办结", "张*",
                     "340524********001X", "138****8000", "一门受理·初步研判", "陈明（center1）", "办结反馈",
                     "临时救助金2000元", "材料审查", "合格", "需补正", "缺少住院费用票据", PROOF_SHORT,
                     "住院票据.png", "办理记录", "收到补正材料"):
        assert expected in text, expected
    assert RAW_ID not in text and RAW_PHONE not in text and "张三" not in text


def test_the_retention_is_the_longest_of_the_cases_matters(archiving: Any) -> None:
    """With 临时救助 set to 永久 in the catalog, its case is archived 永久 (cover included)."""
    matter = archiving.catalog.get("linshi")
    archiving.catalog.save("admin1", {**stored(matter), "retention": "permanent"}, "县档案馆要求永久保存",
                           matter["revision"])
    case_no = reviewed_case(archiving)
    build(archiving)
    [shown] = archiving.archives.show(case_no)["versions"]
    assert shown["retention"] == "permanent"
    assert "永久" in pdf_text(folder(archiving, case_no) / "casefile.pdf")


def test_verify_names_an_altered_material_an_altered_pdf_and_a_missing_file(archiving: Any) -> None:
    """`relief archive verify` passes on an intact archive; one byte changed in a material or in the PDF,
    or a file deleted, makes it exit 1 naming that file (for all cases and for the one case)."""
    case_no = reviewed_case(archiving)
    other = reviewed_case(archiving)
    build(archiving)
    assert cli(archiving, "archive", "verify") == {"checked": 2, "ok": True, "problems": []}
    where = folder(archiving, case_no)
    prefix = where.relative_to(archiving.settings.archive_dir).as_posix()
    material = writable(where / "materials/01-申请书.pdf")
    original = material.read_bytes()
    material.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    refused = cli(archiving, "archive", "verify", expect=1)
    assert refused["error"] == "archive_damaged" and refused["problems"] == [
        {"case_no": case_no, "version": 1, "archive_no": refused["problems"][0]["archive_no"],
         "file": f"{prefix}/materials/01-申请书.pdf", "problem": "altered"}]
    assert cli(archiving, "archive", "verify", other)["ok"] is True
    material.write_bytes(original)
    pdf = writable(where / "casefile.pdf")
    content = pdf.read_bytes()
    pdf.write_bytes(content[:100] + bytes([content[100] ^ 1]) + content[101:])
    assert [(p["file"], p["problem"]) for p in cli(archiving, "archive", "verify", case_no, expect=1)["problems"]] \
        == [(f"{prefix}/casefile.pdf", "altered")]
    pdf.write_bytes(content)
    (where / "materials/02-住院票据.png").unlink()
    assert [(p["file"], p["problem"]) for p in cli(archiving, "archive", "verify", expect=1)["problems"]] \
        == [(f"{prefix}/materials/02-住院票据.png", "missing")]


def test_a_new_version_leaves_the_first_intact(archiving: Any) -> None:
    """重新归档 by an administrator (reason required, audited) adds version 2 with the same 档号 in a folder
    of its own, its cover giving the reason; version 1's files are unchanged and both verify."""
    case_no = reviewed_case(archiving)
    build(archiving)
    first = folder(archiving, case_no)
    before = {p.name: p.read_bytes() for p in first.rglob("*") if p.is_file()}
    admin = principal(archiving, "admin1")
    with pytest.raises(InvalidData):
        archiving.archives.request_version(admin, case_no, "  ")
    with pytest.raises(Forbidden):
        archiving.archives.request_version(principal(archiving, "center1"), case_no, "更正")
    assert archiving.archives.request_version(admin, case_no, "更正办结汇总后重新归档") == {
        "case_no": case_no, "version": 2, "status": "pending"}
    [built] = build(archiving)["archives_built"]
    versions = archiving.archives.show(case_no)["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "archived"), (2, "archived")]
    assert versions[0]["archive_no"] == versions[1]["archive_no"] == built["archive_no"]
    second = folder(archiving, case_no, 2)
    assert second != first and {p.name: p.read_bytes() for p in first.rglob("*") if p.is_file()} == before
    assert "更正办结汇总后重新归档" in pdf_text(second / "casefile.pdf")
    assert cli(archiving, "archive", "verify", case_no) == {"checked": 2, "ok": True, "problems": []}
    with tx(archiving.database_url) as session:
        logged = session.scalars(select(AuditLog).where(AuditLog.action == "archive_requested")).one()
    assert (logged.actor, logged.target, logged.details["version"]) == ("admin1", case_no, 2)


def test_an_open_case_is_not_archived_on_request(archiving: Any) -> None:
    """A case still running has nothing to archive: the request is refused and nothing is due."""
    case_no = start(archiving)
    with pytest.raises(TaskConflict, match="尚未结束"):
        archiving.archives.request_version(principal(archiving, "admin1"), case_no, "提前归档")
    assert build(archiving)["archives_built"] == []


def test_declined_and_terminated_cases_are_archived_too(archiving: Any) -> None:
    """不予受理 at triage and 终止 by an administrator both end the case: each is archived with its outcome."""
    declined = start(archiving)
    archiving.complete_task(open_task(archiving, declined, "triage"), "center1",
                            {"decision": "ineligible", "reason": "家庭收入高于当地低保标准"})
    terminated = start(archiving)
    archiving.admin.terminate_case(terminated, "admin1", "申请人撤回申请")
    built = {b["case_no"] for b in build(archiving)["archives_built"]}
    assert built == {declined, terminated}
    declined_text = pdf_text(folder(archiving, declined) / "casefile.pdf")
    assert "不予受理" in declined_text and "家庭收入高于当地低保标准" in declined_text
    assert "已终止" in pdf_text(folder(archiving, terminated) / "casefile.pdf")


def test_a_failed_build_is_kept_on_the_row_and_retried(archiving: Any) -> None:
    """A material missing from the upload store: the tick records the failure (naming the file) and the
    case stays 办结; once the file is back, a later tick archives it."""
    case_no = reviewed_case(archiving)
    stored = Path(archiving.settings.upload_dir) / hashlib.sha256(PNG).hexdigest()
    kept = stored.read_bytes()
    stored.unlink()
    [failure] = build(archiving)["archive_failures"]
    assert failure["case_no"] == case_no and "住院票据.png" in failure["error"]
    [row] = archiving.archives.show(case_no)["versions"]
    assert row["status"] == "pending" and "住院票据.png" in row["error"] and row["attempts"] == 1
    assert archiving.queries.show_case(case_no)["status"] == "closed_completed"
    stored.write_bytes(kept)
    assert build(archiving)["archives_built"] == []  # not before its retry time
    assert [b["case_no"] for b in build(archiving, minutes=2)["archives_built"]] == [case_no]
    assert archiving.archives.show(case_no)["versions"][0]["error"] is None


def test_the_cli_runs_what_is_due_and_shows_a_case(archiving: Any) -> None:
    """`relief archive run` builds every due version; `relief archive show` lists the files of each."""
    case_no = reviewed_case(archiving)
    ran = cli(archiving, "archive", "run")
    assert [a["case_no"] for a in ran["archived"]] == [case_no] and ran["failed"] == []
    shown = cli(archiving, "archive", "show", case_no)
    assert shown["case_no"] == case_no and shown["versions"][0]["status"] == "archived"
    assert [f["role"] for f in shown["versions"][0]["files"]] == ["casefile", "material", "material"]
    assert cli(archiving, "archive", "show", "SJ000000000000", expect=1)["error"] == "not_found"


def test_an_application_without_matters_is_numbered_under_qita(archiving: Any) -> None:
    """A declined case that named no matter still gets a 档号 (year-qita-sequence) and the default 保管期限."""
    case_no, _ = archiving.start_case(applicant(), "window", "village", actor="clerk_c", org="center")
    archiving.complete_task(open_task(archiving, case_no, "triage"), "center1",
                            {"decision": "ineligible", "reason": "不符合条件"})
    [built] = build(archiving)["archives_built"]
    assert built["archive_no"].endswith("-qita-0001")
