"""The database part of a backup: one consistent snapshot, taken while the app runs, and its restore.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies the database in one step under a read
transaction, so writers of the running app carry on and the copy is one moment's state. PostgreSQL:
`pg_dump -Fc` on a snapshot exported by a REPEATABLE READ transaction, which reads the revision and the
counts for the manifest from the same moment; `pg_restore` puts it back.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, make_url, text

from engine import db
from engine.errors import EngineError

SQLITE_FILE = "database.sqlite"
POSTGRES_FILE = "database.dump"
# What the manifest counts (and a restore is compared with): table → name in the manifest.
COUNTED = {"application": "cases", "process_instance": "instances", "human_task": "tasks",
           "case_event": "events", "attachment": "attachments", "case_archive": "archive_versions",
           "app_user": "users", "audit_log": "audit_entries"}


class BackupRefused(EngineError):
    """A backup or restore that cannot be done as asked; the message says why (in Chinese)."""

    code = "backup_refused"


def kind_of(url: str) -> str:
    """'sqlite' or 'postgresql', from a database URL."""
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupRefused(f"不支持备份此类数据库：{backend}")
    return backend


def sqlite_path(url: str) -> Path:
    """The file of an SQLite database URL."""
    name = make_url(url).database
    if not name or name == ":memory:":
        raise BackupRefused("内存中的 SQLite 数据库无法备份或恢复")
    return Path(name)


def read_state(conn: Connection) -> tuple[str | None, dict[str, int]]:
    """The schema's Alembic revision and the row counts of COUNTED, as `conn` sees the database."""
    tables = set(inspect(conn).get_table_names())
    revision = (conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in tables else None)
    counts = {name: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - fixed names
              for table, name in COUNTED.items() if table in tables}
    return revision, counts


def table_names(url: str) -> list[str]:
    """The tables the database at `url` has (none: a fresh, empty database)."""
    if kind_of(url) == "sqlite" and not sqlite_path(url).exists():
        return []
    with db.get_engine(url).connect() as conn:
        return sorted(inspect(conn).get_table_names())


def dump(url: str, target: Path) -> dict[str, Any]:
    """Write one consistent snapshot of the database at `url` into the folder `target`; {kind, file, revision,
    counts} of what was written."""
    kind = kind_of(url)
    if kind == "sqlite":
        file = target / SQLITE_FILE
        source = sqlite3.connect(sqlite_path(url), timeout=db.SQLITE_TIMEOUT)
        copy = sqlite3.connect(file)
        try:
            source.backup(copy)  # all pages in one step: one read transaction, one moment
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            source.close()
            copy.close()
        with db.get_engine(f"sqlite:///{file}").connect() as conn:
            revision, counts = read_state(conn)
        db.get_engine(f"sqlite:///{file}").dispose()
    else:
        file = target / POSTGRES_FILE
        with db.get_engine(url).connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                revision, counts = read_state(conn)
                # The exporting transaction stays open until pg_dump has read everything.
                _run(_pg("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                     f"--file={file}", url=url)
    return {"kind": kind, "file": file.name, "revision": revision, "counts": counts}


def load(url: str, file: Path, kind: str, replace: bool) -> None:
    """Put a dumped database into the one at `url` (of the same kind); `replace` first drops what it has."""
    if kind != kind_of(url):
        raise BackupRefused(f"备份的数据库类型（{kind}）与目标数据库（{kind_of(url)}）不同，无法恢复")
    db.get_engine(url).dispose()
    if kind == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(file)
        target = sqlite3.connect(path, timeout=db.SQLITE_TIMEOUT)
        try:
            source.backup(target)  # replaces every page of the target, WAL or not
        finally:
            source.close()
            target.close()
    else:
        if replace:
            _drop_tables(url)
        _run(_pg("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             str(file), url=url)
    db.get_engine(url).dispose()


def _drop_tables(url: str) -> None:
    with db.get_engine(url).begin() as conn:
        for name in inspect(conn).get_table_names():
            conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))


def _pg(program: str) -> str:
    """The path of a PostgreSQL client program: on PATH, else the newest server version's bin folder."""
    found = shutil.which(program)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{program}"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return str(candidates[-1])
    raise BackupRefused(f"找不到 PostgreSQL 客户端程序 {program}：请安装 postgresql-client"
                        f"（版本不低于数据库服务器），或把它所在的目录加入 PATH")


def _run(program: str, *args: str, url: str) -> None:
    """Run pg_dump/pg_restore on the database of `url`; a password goes through a private passfile, never argv."""
    parsed = make_url(url)
    with tempfile.TemporaryDirectory(prefix="relief-pg-") as private:
        query = {}
        if parsed.password:
            passfile = Path(private) / "pgpass"
            fields = [parsed.host or "localhost", str(parsed.port or 5432), parsed.database or "*",
                      parsed.username or "*", str(parsed.password)]
            passfile.write_text(":".join(f.replace("\\", "\\\\").replace(":", "\\:") for f in fields) + "\n")
            passfile.chmod(0o600)
            query["passfile"] = str(passfile)
        target = parsed.set(drivername="postgresql", password=None).update_query_dict(query)
        done = subprocess.run([program, *args, f"--dbname={target.render_as_string(hide_password=False)}"],
                              capture_output=True, text=True, check=False)
    if done.returncode:
        name = Path(program).name
        raise BackupRefused(f"{name} 执行失败（退出码 {done.returncode}）：{done.stderr.strip()[-2000:]}")


def counts_of(url: str) -> Mapping[str, int]:
    """The row counts of COUNTED in the database at `url` now."""
    with db.get_engine(url).connect() as conn:
        return read_state(conn)[1]
