"""`relief backup` and `relief restore`: a restore into an empty database and empty directories gives back the
same cases, tasks, events and files, and the cases go on; a damaged backup or a database in use is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.cases.materials import Upload
from tests.support.archive import PDF, PNG, build, reviewed_case
from tests.support.backup import case_rows, empty_database, file_hashes
from tests.support.cases import applicant, dispatch, open_task
from tests.support.cli import relief
from tests.support.db import engine_for
from tests.support.upgrade import earlier_revisions


def places(root: Path) -> dict[str, str]:
    """The settings of an installation whose instance, uploads and archive live under `root`."""
    return {"INSTANCE_DIR": str(root / "instance"), "UPLOAD_DIR": str(root / "uploads"),
            "ARCHIVE_DIR": str(root / "archive"), "CATALOG_IMAGE_DIR": str(root / "catalog-images")}


@pytest.fixture
def installation(clean_db: str, tmp_path: Path) -> dict[str, Any]:
    """The suite's database with cases in it — one closed with its archive built, two open with materials —
    and its files and secret key under tmp_path/source."""
    settings = places(tmp_path / "source")
    engine = engine_for(clean_db, deploy=True, county=True, **settings)
    closed = reviewed_case(engine)
    assert build(engine)["archives_built"]
    waiting, _ = engine.start_case(applicant(matters=["linshi"]), "online", "county", query_code="WXYZ2345",
                                   actor="applicant", consent=True,
                                   uploads=[Upload("证明.pdf", PDF + b"open"), Upload("照片.png", PNG)])
    dispatched, _ = engine.start_case(applicant(), "window", "village", actor="clerk_v", org="T01V01",
                                      uploads=[Upload("户口簿.pdf", PDF + b"second")])
    dispatch(engine, dispatched, "minzheng")
    key = tmp_path / "source" / "instance" / "secret_key"
    key.write_text("k" * 64)
    return {"url": clean_db, "settings": settings, "root": tmp_path / "source", "closed": closed,
            "open": [waiting, dispatched], "engine": engine}


def test_a_restore_gives_back_the_same_cases_tasks_events_and_files(installation: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    """Backed up and restored into an empty database and empty directories, the installation has the same case
    rows, files and key; its archive verifies, its audit log holds, and an open case goes on to its next step."""
    source, target = installation["root"], tmp_path / "target"
    made = relief("backup", str(tmp_path / "backup"), database_url=installation["url"], **installation["settings"])
    assert made["counts"]["cases"] == 3 and made["counts"]["uploads_files"] == 4  # the PNG is stored once
    assert made["counts"]["archive_files"] > 0 and made["database"]["alembic_revision"]
    with empty_database(installation["url"], tmp_path) as fresh:
        restored = relief("restore", str(tmp_path / "backup"), database_url=fresh, **places(target))
        assert restored["counts"]["cases"] == 3 and not restored["upgrade_needed"]
        assert case_rows(fresh) == case_rows(installation["url"])
        for part in ("uploads", "archive"):
            assert file_hashes(target / part) == file_hashes(source / part) != {}
        assert (target / "instance" / "secret_key").read_text() == "k" * 64
        assert relief("archive", "verify", database_url=fresh, **places(target))["ok"]
        assert relief("audit", "verify", database_url=fresh, **places(target))["ok"]
        engine = engine_for(fresh, **places(target))
        case_no = installation["open"][1]
        engine.complete_task(open_task(engine, case_no, "dept_accept", "minzheng"), "mz1",
                             {"materials": ["身份证"], "location": "县民政局", "field_work": "none"})
        assert open_task(engine, case_no, "dept_result", "minzheng")
        closed = installation["closed"]
        history = [e["type"] for e in engine.queries.show_case(closed)["history"]]
        assert history == [e["type"] for e in installation["engine"].queries.show_case(closed)["history"]]


def test_backup_and_restore_are_audited(installation: dict[str, Any], tmp_path: Path) -> None:
    """The backup is in the source's audit log, the restore in the restored one's, with the counts."""
    from sqlalchemy import select

    from engine import db
    from engine.tables import AUDIT

    relief("backup", str(tmp_path / "backup"), database_url=installation["url"], **installation["settings"])
    with empty_database(installation["url"], tmp_path) as fresh:
        relief("restore", str(tmp_path / "backup"), "--by", "admin1", database_url=fresh,
               **places(tmp_path / "target"))
        expected = ((installation["url"], "backup_created", "cli"), (fresh, "backup_restored", "admin1"))
        for url, action, actor in expected:
            with db.get_engine(url).connect() as conn:
                [entry] = conn.execute(select(AUDIT.c.actor, AUDIT.c.details).where(AUDIT.c.action == action)).all()
            assert entry.actor == actor and entry.details["counts"]["cases"] == 3


def test_a_tampered_backup_is_refused_before_anything_is_restored(installation: dict[str, Any],
                                                                  tmp_path: Path) -> None:
    """One changed byte in an upload of the backup: the restore exits 1 naming the file and leaves the
    database and directories as they were (empty)."""
    backup = tmp_path / "backup"
    relief("backup", str(backup), database_url=installation["url"], **installation["settings"])
    upload = next(p for p in sorted((backup / "uploads").iterdir()))
    upload.write_bytes(upload.read_bytes() + b"x")
    with empty_database(installation["url"], tmp_path) as fresh:
        refused = relief("restore", str(backup), database_url=fresh, expect=1, **places(tmp_path / "target"))
        assert "已被改动" in refused["message"] and f"uploads/{upload.name}" in refused["message"]
        from engine.backup.database import table_names

        assert table_names(fresh) == [] and not (tmp_path / "target" / "uploads").exists()


@pytest.mark.parametrize("damage", ["missing", "unlisted", "manifest"])
def test_a_damaged_backup_is_refused(installation: dict[str, Any], tmp_path: Path, damage: str) -> None:
    """A file missing from the backup, one added to it, or a manifest that is not ours: refused with the reason."""
    backup = tmp_path / "backup"
    relief("backup", str(backup), database_url=installation["url"], **installation["settings"])
    reason = {"missing": "缺少文件", "unlisted": "不在清单中", "manifest": "格式不认识"}[damage]
    if damage == "missing":
        next((backup / "uploads").iterdir()).unlink()
    elif damage == "unlisted":
        (backup / "uploads" / "extra").write_bytes(b"added later")
    else:
        (backup / "manifest.json").write_text(json.dumps({"format": 99}))
    with empty_database(installation["url"], tmp_path) as fresh:
        refused = relief("restore", str(backup), database_url=fresh, expect=1, **places(tmp_path / "target"))
    assert reason in refused["message"]


def test_a_database_in_use_is_refused_without_force(installation: dict[str, Any], tmp_path: Path) -> None:
    """Restoring over a database that has tables is refused; with --force it is replaced by the backup's."""
    backup = tmp_path / "backup"
    relief("backup", str(backup), database_url=installation["url"], **installation["settings"])
    with empty_database(installation["url"], tmp_path) as fresh:
        target = places(tmp_path / "target")
        relief("restore", str(backup), database_url=fresh, **target)
        engine_for(fresh, **target).start_case(applicant(), "window", "village", actor="clerk_v", org="T01V01")
        refused = relief("restore", str(backup), database_url=fresh, expect=1, **target)
        assert "不是空的" in refused["message"] and "--force" in refused["message"]
        assert relief("restore", str(backup), "--force", database_url=fresh, **target)["counts"]["cases"] == 3
        assert case_rows(fresh)["cases"] == case_rows(installation["url"])["cases"]


def test_a_backup_directory_in_use_is_refused(installation: dict[str, Any], tmp_path: Path) -> None:
    """`relief backup` into a folder that has files already is refused; nothing is written there."""
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "old.txt").write_text("keep")
    refused = relief("backup", str(tmp_path / "backup"), database_url=installation["url"], expect=1,
                     **installation["settings"])
    assert "不是空目录" in refused["message"]
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["old.txt"]


def test_a_backup_taken_while_cases_are_registered_is_consistent(installation: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    """Cases with materials keep being registered while the backup runs: the restored database has exactly the
    manifest's counts, and every material a restored case names is among the restored files."""
    import threading

    from sqlalchemy import select

    from engine import db
    from engine.tables import ATTACHMENT

    engine = engine_for(installation["url"], **installation["settings"])
    stop, registered = threading.Event(), []

    def register() -> None:
        while not stop.is_set():
            n = len(registered)
            case_no, _ = engine.start_case(applicant(), "window", "village", actor="clerk_v", org="T01V01",
                                           uploads=[Upload(f"材料{n}.pdf", PDF + str(n).encode())])
            registered.append(case_no)

    writer = threading.Thread(target=register)
    writer.start()
    try:
        while len(registered) < 2:  # the writer is under way before the backup starts
            stop.wait(0.01)
        made = relief("backup", str(tmp_path / "backup"), database_url=installation["url"],
                      **installation["settings"])
    finally:
        stop.set()
        writer.join()
    assert len(registered) > 2
    with empty_database(installation["url"], tmp_path) as fresh:
        target = places(tmp_path / "target")
        restored = relief("restore", str(tmp_path / "backup"), database_url=fresh, **target)
        assert restored["counts"] == {k: v for k, v in made["counts"].items() if not k.endswith("_files")}
        with db.get_engine(fresh).connect() as conn:
            named = set(conn.execute(select(ATTACHMENT.c.sha256)).scalars())
        assert named <= set(file_hashes(Path(target["UPLOAD_DIR"]))) and len(named) > 4


def test_a_backup_of_an_older_schema_restores_and_then_upgrades(older_db: str, tmp_path: Path) -> None:
    """A database still at the revision before head is backed up and restored as it is; the restore says an
    upgrade is due, and after `relief init-db` its cases are there and go on."""
    target = places(tmp_path / "target")
    made = relief("backup", str(tmp_path / "backup"), database_url=older_db, **target)
    assert made["database"]["alembic_revision"] == earlier_revisions()[-1]
    with empty_database(older_db, tmp_path, "restore_old") as fresh:
        restored = relief("restore", str(tmp_path / "backup"), database_url=fresh, **target)
        assert restored["upgrade_needed"] and restored["revision"] == earlier_revisions()[-1]
        assert restored["counts"]["cases"] == 1
        relief("init-db", database_url=fresh)
        engine = engine_for(fresh, **target)
        [case_no] = {t["case_no"] for t in engine.queries.list_tasks()}
        dispatch(engine, case_no, "minzheng")
        assert open_task(engine, case_no, "dept_accept", "minzheng")


@pytest.fixture
def older_db(case_engine: Any, tmp_path: Path) -> Iterator[str]:
    """A database at the revision before head holding one case at 初审, copied from the suite's."""
    from tests.support.cases import start
    from tests.support.upgrade import copy_rows, migrate_to

    start(case_engine)
    with empty_database(case_engine.database_url, tmp_path, "older") as old:
        migrate_to(old, earlier_revisions()[-1])
        copy_rows(case_engine.database_url, old)
        yield old
