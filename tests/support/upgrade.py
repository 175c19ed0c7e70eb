"""Databases at an earlier schema revision, holding data: the rows of a database at head, as far as the older
schema has their tables and columns (every upgrade only adds tables and columns, so those are a subset)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, insert, inspect, select, text

from engine import db, schema
from engine.models import Base


def earlier_revisions() -> list[str]:
    """Every revision before head, oldest first (0001 … head-1)."""
    scripts = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
    revisions = [s.revision for s in scripts.walk_revisions()][::-1]
    assert revisions[-1] == scripts.get_current_head()
    return revisions[:-1]


def migrate_to(url: str, revision: str) -> None:
    """Create the schema of `revision` (and nothing newer) in the empty database at `url`."""
    db.ensure_sqlite_directory(url)
    command.upgrade(schema.alembic_config(url), revision)


def _parents_first(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows in an order a self-referencing foreign key accepts (organisation.parent_code: the center before
    its townships, a township before its villages); the source's order is the database's physical one."""
    links = [(fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table]
    if not links:
        return rows
    placed: set[tuple[str, Any]] = set()
    ordered: list[dict[str, Any]] = []
    waiting = rows
    while waiting:
        ready = [r for r in waiting if all(r.get(child) is None or (key, r[child]) in placed for child, key in links)]
        assert ready, f"{table.name}: rows whose parents are missing"
        for row in ready:
            placed.update((key, row[key]) for _child, key in links)
        ordered += ready
        waiting = [r for r in waiting if r not in ready]
    return ordered


def copy_rows(source_url: str, target_url: str, leave_out: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Insert the source's rows into the target's tables (parents first), only the columns the target has;
    on PostgreSQL move the id sequences past them. Return {table: the columns copied}."""
    copied = {}
    with db.get_engine(source_url).connect() as source, db.get_engine(target_url).begin() as target:
        found = inspect(target)
        for table in Base.metadata.sorted_tables:
            if table.name in leave_out or not found.has_table(table.name):
                continue
            present = {c["name"] for c in found.get_columns(table.name)}
            columns = [c for c in table.columns if c.name in present]
            rows = _parents_first(table, [dict(r._mapping) for r in source.execute(select(*columns))])
            if rows:  # the head's column types bind the values; its defaults of newer columns stay out
                older = Table(table.name, MetaData(), *(Column(c.name, c.type) for c in columns))
                target.execute(older.delete())  # rows a migration seeded (the audit chain's head) give way
                target.execute(insert(older), rows)
            copied[table.name] = [c.name for c in columns]
            serial = "id" in present and isinstance(table.c.id.type, Integer)
            if target.dialect.name == "postgresql" and serial and rows:
                target.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                    f"(SELECT max(id) FROM {table.name}))"))
    return copied
