"""Reading the matter catalog (事项清单) as the database holds it now, for every form, filter and check.

The catalog is kept per process and read again when a revision was written anywhere (one indexed
query per call), so several server processes agree. Writing is `engine.catalog.service`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from engine import db
from engine.catalog.records import FIELDS
from engine.tables import MATTER, MATTER_REVISION

_cache: dict[str, tuple[tuple[Any, ...], dict[str, dict[str, Any]]]] = {}
_cache_lock = threading.Lock()


def generation(conn: Connection) -> tuple[Any, ...]:
    """What changes with every revision: revisions are only ever added (their count, newest id and time)."""
    row = conn.execute(select(func.count(), func.max(MATTER_REVISION.c.id), func.max(MATTER_REVISION.c.at))).one()
    return tuple(row)


def record_of(row: RowMapping | Mapping[str, Any]) -> dict[str, Any]:
    """A matter row as the catalog hands it out: its fields and its bookkeeping."""
    return {**{key: row[key] for key in FIELDS}, "position": row["position"], "revision": row["revision"],
            "updated_at": row["updated_at"], "updated_by": row["updated_by"]}


def read_all(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every matter keyed by code, in the catalog's order."""
    rows = conn.execute(select(MATTER).order_by(MATTER.c.position, MATTER.c.code)).mappings()
    return {row["code"]: record_of(row) for row in rows}


def current_matters(database_url: str) -> dict[str, dict[str, Any]]:
    """The catalog keyed by code in its order, as the database holds it now (kept until a revision)."""
    with db.get_engine(database_url).connect() as conn:
        conn = conn.execution_options(**{db.READ_ONLY: True})
        found = generation(conn)
        cached = _cache.get(database_url)
        if cached is not None and cached[0] == found:
            return cached[1]
        records = read_all(conn)
    with _cache_lock:
        _cache[database_url] = (found, records)
    return records
