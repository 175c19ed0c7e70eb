"""Backups in tests: a second, empty database of the suite's kind, and what two installations hold."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, select, text

from engine import db
from engine.tables import APPLICATION, ARCHIVE, ATTACHMENT, EVENT, INSTANCE, TASK

# The case data a restore must give back row for row.
CASE_TABLES = {"cases": APPLICATION, "instances": INSTANCE, "tasks": TASK, "events": EVENT,
               "attachments": ATTACHMENT, "archive": ARCHIVE}


@contextmanager
def empty_database(database_url: str, folder: Path, suffix: str = "restore") -> Iterator[str]:
    """A new, empty database beside the suite's: an SQLite file in `folder`, or on PostgreSQL a database
    named after the suite's (…test…_`suffix`), dropped afterwards."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{folder / f'{suffix}.db'}"
        return
    name = f"{url.database}_{suffix}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        fresh = url.set(database=name).render_as_string(hide_password=False)
        try:
            yield fresh
        finally:
            db.get_engine(fresh).dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


Rows = dict[str, list[tuple[Any, ...]]]


def case_rows(database_url: str, columns: Mapping[str, Sequence[str]] | None = None) -> Rows:
    """Every row of the case tables (CASE_TABLES), in primary-key order; of each table only `columns[table name]`
    when given."""
    with db.get_engine(database_url).connect() as conn:
        return {name: [tuple(r) for r in conn.execute(
                    select(*([table.c[c] for c in columns[table.name]] if columns else [table]))
                    .order_by(*table.primary_key.columns))]
                for name, table in CASE_TABLES.items() if columns is None or table.name in columns}


def file_hashes(root: Path) -> dict[str, str]:
    """{relative path: SHA-256} of every file under `root`."""
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
