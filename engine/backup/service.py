"""`relief backup DIR` and `relief restore DIR`: one installation's data together, with a manifest.

A backup takes the database first (one consistent snapshot, `engine.backup.database`), then copies the
uploads, the archive and the catalog images, then the secret key. Files are written before the rows that
name them are committed and never changed afterwards, so every file the snapshot names is in the copy
(a file newer than the snapshot may be too; it does no harm). manifest.json lists every file with its
SHA-256, the row counts, the schema's revision and the database's kind.

A restore checks the whole backup against its manifest before it touches anything, refuses a database
that already has tables (unless `force`), then loads the database and copies the files and the key
back. Both are in the audit log: the backup in the database it was taken of, the restore in the restored
one (whose chain goes on from the backup's head).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory

from engine import clock, db, schema
from engine.audit.chain import audit
from engine.backup import files
from engine.backup.database import BackupRefused, counts_of, dump, kind_of, load, table_names
from engine.settings import Settings

MANIFEST = "manifest.json"
FORMAT = 1
SECRET_KEY = "secret_key"
# The file trees of an installation: name in the backup → the setting that says where it lives.
TREES = {"uploads": "upload_dir", "archive": "archive_dir", "catalog-images": "catalog_image_dir"}


def app_version() -> str:
    """The installed package's version."""
    try:
        return metadata.version("relief-linkage")
    except metadata.PackageNotFoundError:
        return "unknown"


def create_backup(settings: Settings, target: Path, actor: str = "cli") -> dict[str, Any]:
    """Back the installation up into `target` (new or empty); return the manifest written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupRefused(f"备份目录 {target} 已存在且不是空目录：请指定一个新目录")
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # personal data and the secret key: for the operator's eyes only
    created_at = clock.now()
    database = dump(settings.database_url, target)
    listed = {database["file"]: files.sha256_of(target / database["file"])}
    tree_counts = {}
    for part, setting in TREES.items():
        copied = files.copy_tree(Path(getattr(settings, setting)), target / part, part)
        listed.update(copied)
        tree_counts[part] = len(copied)
    key = settings.instance_dir / SECRET_KEY
    if key.is_file():
        (target / SECRET_KEY).write_bytes(key.read_bytes())
        os.chmod(target / SECRET_KEY, 0o600)
        listed[SECRET_KEY] = files.sha256_of(target / SECRET_KEY)
    manifest = {
        "format": FORMAT, "app_version": app_version(), "created_at": created_at.isoformat(),
        "database": {"kind": database["kind"], "file": database["file"], "alembic_revision": database["revision"]},
        "counts": {**database["counts"], **{f"{part.replace('-', '_')}_files": n for part, n in tree_counts.items()}},
        "secret_key": key.is_file(), "files": listed,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    if database["revision"] == _head():  # an older schema's audit log has no chain yet
        _audit(settings.database_url, actor, "backup_created", created_at, directory=str(target.resolve()),
               counts=manifest["counts"], revision=database["revision"])
    return manifest


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in `source`; BackupRefused when there is none or it is not one of ours."""
    path = source / MANIFEST
    if not path.is_file():
        raise BackupRefused(f"{source} 中没有 {MANIFEST}：不是本系统的备份目录")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise BackupRefused(f"{MANIFEST} 无法读取：{err}") from err
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict) \
            or not isinstance(manifest.get("database"), dict):
        raise BackupRefused(f"{MANIFEST} 的格式不认识（format={manifest.get('format')!r}）")
    return manifest


def check_backup(source: Path) -> dict[str, Any]:
    """Check every file of the backup in `source` against its manifest; return the manifest, or raise
    BackupRefused listing the problems (missing, altered, unlisted files; a revision this version lacks)."""
    manifest = read_manifest(source)
    problems = files.check(source, manifest["files"], tuple(TREES))
    if manifest["database"].get("file") not in manifest["files"]:
        problems.append("清单中没有数据库文件")
    if manifest["secret_key"] and SECRET_KEY not in manifest["files"]:
        problems.append("清单中没有密钥文件")
    revision = manifest["database"].get("alembic_revision")
    known = {s.revision for s in _scripts().walk_revisions()}
    if revision is not None and revision not in known:
        problems.append(f"备份的数据库结构版本 {revision} 比本程序新："
                        f"请用不低于 {manifest.get('app_version')} 的版本恢复")
    if problems:
        raise BackupRefused("备份校验未通过，未做任何恢复：\n" + "\n".join(f"  {p}" for p in problems))
    return manifest


def restore_backup(settings: Settings, source: Path, force: bool = False, actor: str = "cli") -> dict[str, Any]:
    """Restore the backup in `source` into the configured database and directories; return what was restored.

    Refused (nothing changed) when the backup fails its check, or, without `force`, when the database has
    tables or a directory has files already."""
    manifest = check_backup(source)
    kind = manifest["database"]["kind"]
    if kind != kind_of(settings.database_url):
        raise BackupRefused(f"备份的数据库类型（{kind}）与目标数据库（{kind_of(settings.database_url)}）不同，无法恢复")
    if not force:
        _refuse_if_in_use(settings)
    load(settings.database_url, source / manifest["database"]["file"], kind, replace=force)
    for part, setting in TREES.items():
        files.copy_tree(source / part, Path(getattr(settings, setting)), part)
    if manifest["secret_key"]:
        key = settings.instance_dir / SECRET_KEY
        key.parent.mkdir(parents=True, exist_ok=True)
        if key.exists():
            key.chmod(0o600)
        key.write_bytes((source / SECRET_KEY).read_bytes())
        key.chmod(0o600)
    counts = dict(counts_of(settings.database_url))
    revision = manifest["database"]["alembic_revision"]
    head = _head()
    restored_at = clock.now()
    if revision == head:  # an older schema gets its audit entry columns only from `relief init-db`
        _audit(settings.database_url, actor, "backup_restored", restored_at, directory=str(source.resolve()),
               backup_created_at=manifest["created_at"], revision=revision, counts=counts)
    return {"ok": True, "source": str(source), "created_at": manifest["created_at"], "database": kind,
            "revision": revision, "head": head, "upgrade_needed": revision != head, "counts": counts,
            "files": len(manifest["files"])}


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(schema.alembic_config("sqlite://"))


def _head() -> str | None:
    return _scripts().get_current_head()


def _refuse_if_in_use(settings: Settings) -> None:
    tables = table_names(settings.database_url)
    if tables:
        raise BackupRefused(f"目标数据库不是空的（已有 {len(tables)} 张表）：恢复会覆盖其中的数据。"
                            "请恢复到新建的空数据库，或确认后加 --force")
    for part, setting in TREES.items():
        folder = Path(getattr(settings, setting))
        if not files.is_empty(folder):
            raise BackupRefused(f"目标目录 {folder}（{part}）已有文件：请使用空目录，或确认后加 --force")


def _audit(url: str, actor: str, action: str, at: datetime, **details: Any) -> None:
    with db.transaction(db.session_factory(url)) as session:
        audit(session, actor, action, at, None, **details)
