"""Reading the matter catalog (事项清单) as the database holds it now, for every form, filter and check.

The catalog is kept per process. Whether a revision was written anywhere is asked at most once every
CHECK_EVERY seconds (one indexed query), so several server processes agree within that time while a page
naming many matters costs no query per name; a change made in this process is seen at once (`forget`).
Writing is `engine.catalog.service`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from engine import db
from engine.catalog.records import FIELDS
from engine.tables import MATTER, MATTER_REVISION

CHECK_EVERY = 1.0  # seconds between two looks for another process's revision
_cache: dict[str, tuple[tuple[Any, ...], float, dict[str, dict[str, Any]]]] = {}
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
    cached = _cache.get(database_url)
    now = time.monotonic()
    if cached is not None and now - cached[1] < CHECK_EVERY:
        return cached[2]
    with db.get_engine(database_url).connect() as conn:
        conn = conn.execution_options(**{db.READ_ONLY: True})
        found = generation(conn)
        records = cached[2] if cached is not None and cached[0] == found else read_all(conn)
    with _cache_lock:
        _cache[database_url] = (found, now, records)
    return records


def forget(database_url: str) -> None:
    """Drop this process's copy of the catalog (after this process changed it)."""
    with _cache_lock:
        _cache.pop(database_url, None)
