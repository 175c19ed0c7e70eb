"""The archive register (`case_archive`): which versions of an ended case are due, claimed, written, and
their 档号. Core statements on the caller's connection; the caller owns the transaction.

A version is due (pending) from the step that ends the case, or from an administrator's correction. A
builder claims it by moving its next attempt past the build's time (a crashed build is simply retried
then), records a failure with the next attempt, or marks it archived — after which the row is never
updated again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from engine.catalog.records import RETENTIONS, label_of
from engine.status import ARCHIVE_PENDING, ARCHIVE_STATUSES, ARCHIVED
from engine.tables import ARCHIVE

CLAIM = timedelta(minutes=10)  # a claimed build not finished by then is taken up again
RETRY = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


def due_at_end(conn: Connection, case_no: str, at: datetime) -> None:
    """Record that a case that has just ended is due for archiving (version 1, once however often asked)."""
    if conn.execute(select(ARCHIVE.c.id).where(ARCHIVE.c.case_no == case_no).limit(1)).first() is None:
        _insert(conn, case_no, 1, at, "system", None)


def request_version(conn: Connection, case_no: str, at: datetime, actor: str, reason: str) -> int:
    """Record that an ended case is due for a new archived version (a correction); return its number."""
    last = conn.execute(select(func.max(ARCHIVE.c.version)).where(ARCHIVE.c.case_no == case_no)).scalar_one()
    version = (last or 0) + 1
    _insert(conn, case_no, version, at, actor, reason)
    return version


def _insert(conn: Connection, case_no: str, version: int, at: datetime, actor: str, reason: str | None) -> None:
    conn.execute(insert(ARCHIVE).values(case_no=case_no, version=version, status=ARCHIVE_PENDING, requested_at=at,
                                        requested_by=actor, reason=reason, attempts=0, next_attempt_at=at))


def due(conn: Connection, now: datetime, limit: int) -> list[Mapping[str, Any]]:
    """Pending versions whose (next) attempt is due, oldest first, at most `limit`."""
    rows = conn.execute(select(ARCHIVE).where(ARCHIVE.c.status == ARCHIVE_PENDING, ARCHIVE.c.next_attempt_at <= now)
                        .order_by(ARCHIVE.c.next_attempt_at, ARCHIVE.c.id).limit(limit)).mappings()
    return [dict(r) for r in rows]


def claim(conn: Connection, row: Mapping[str, Any], now: datetime) -> bool:
    """Take a pending version for one build (False when another builder took it first)."""
    result = conn.execute(update(ARCHIVE).where(
        ARCHIVE.c.id == row["id"], ARCHIVE.c.status == ARCHIVE_PENDING, ARCHIVE.c.attempts == row["attempts"])
        .values(attempts=row["attempts"] + 1, next_attempt_at=now + CLAIM))
    return result.rowcount == 1


def numbered(conn: Connection, row: Mapping[str, Any], year: int, matter: str, retention: str) -> dict[str, Any]:
    """The version with its 档号 and 保管期限: those of the case's earlier versions when it has some, else the
    next sequence number of the year and matter (e.g. 2026-linshi-0001); stored on the row."""
    earlier = conn.execute(select(ARCHIVE.c.archive_no, ARCHIVE.c.year, ARCHIVE.c.matter, ARCHIVE.c.sequence)
                           .where(ARCHIVE.c.case_no == row["case_no"], ARCHIVE.c.archive_no.is_not(None))
                           .order_by(ARCHIVE.c.version).limit(1)).mappings().first()
    if row["archive_no"] is not None:
        values = {k: row[k] for k in ("archive_no", "year", "matter", "sequence")}
    elif earlier is not None:
        values = dict(earlier)
    else:
        last = conn.execute(select(func.max(ARCHIVE.c.sequence)).where(
            ARCHIVE.c.year == year, ARCHIVE.c.matter == matter)).scalar_one()
        sequence = (last or 0) + 1
        values = {"archive_no": f"{year}-{matter}-{sequence:04d}", "year": year, "matter": matter,
                  "sequence": sequence}
    values["retention"] = row["retention"] or retention
    conn.execute(update(ARCHIVE).where(ARCHIVE.c.id == row["id"]).values(**values))
    return {**row, **values}


def archived(conn: Connection, row_id: int, at: datetime, path: str, manifest_sha256: str) -> bool:
    """Mark a version written: where, when, and its manifest's SHA-256 (final: never updated again); False
    when it was marked already."""
    return conn.execute(update(ARCHIVE).where(ARCHIVE.c.id == row_id, ARCHIVE.c.status == ARCHIVE_PENDING).values(
        status=ARCHIVED, created_at=at, path=path, manifest_sha256=manifest_sha256, error=None)).rowcount == 1


def failed(conn: Connection, row: Mapping[str, Any], now: datetime, error: str) -> datetime:
    """Record a failed build on the row; it stays pending and is tried again later (returned)."""
    attempts = row["attempts"] + 1
    retry_at = now + RETRY[min(attempts, len(RETRY)) - 1]
    conn.execute(update(ARCHIVE).where(ARCHIVE.c.id == row["id"], ARCHIVE.c.status == ARCHIVE_PENDING)
                 .values(attempts=attempts, error=error[:2000], next_attempt_at=retry_at))
    return retry_at


def versions(conn: Connection, case_no: str) -> list[dict[str, Any]]:
    """Every archive version of a case, oldest first."""
    rows = conn.execute(select(ARCHIVE).where(ARCHIVE.c.case_no == case_no).order_by(ARCHIVE.c.version))
    return [dict(r._mapping) for r in rows]


def listing(conn: Connection, case_no: str) -> list[dict[str, Any]]:
    """The case's archive versions as pages show them (newest first), with their labels."""
    return [{**{k: row[k] for k in ("version", "status", "archive_no", "retention", "requested_at", "requested_by",
                                   "reason", "created_at", "error")},
             "status_label": ARCHIVE_STATUSES.get(row["status"], row["status"]),
             "retention_label": label_of(RETENTIONS, row["retention"]) if row["retention"] else "",
             "archived": row["status"] == ARCHIVED} for row in reversed(versions(conn, case_no))]


def written(conn: Connection, case_no: str | None = None) -> list[dict[str, Any]]:
    """The archived versions (of one case, or all), in case and version order: what verification checks."""
    statement = select(ARCHIVE).where(ARCHIVE.c.status == ARCHIVED)
    if case_no is not None:
        statement = statement.where(ARCHIVE.c.case_no == case_no)
    return [dict(r._mapping) for r in conn.execute(statement.order_by(ARCHIVE.c.case_no, ARCHIVE.c.version))]
