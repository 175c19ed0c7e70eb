"""Checking the audit log's hash chain (`relief audit verify`, the daily job, the administrators' page).

The entries are read in seq order from the anchor (where pruning left the chain's start) in one snapshot
and each is checked against the one before: its hash must cover its fields (else it was altered), its seq
must follow on (a gap: deleted), it must be within the head (past it: inserted) and follow the hash of the
entry before it. An entry whose link names another entry tells how the chain was broken: one standing
after it — reordered; one further back — the entries between were inserted; none — the entry before it
was rewritten with its hash recomputed. After the last entry the head must be reached (entries missing at
the end: deleted). The first problem found is reported; an attacker who rewrites every later hash and the head
as well is caught only by comparing the head with a copy kept outside the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from engine.audit.chain import Head, read_head, row_hash
from engine.tables import AUDIT

ALTERED, DELETED, INSERTED, REORDERED, HEAD_MISSING = "altered", "deleted", "inserted", "reordered", "head_missing"
PROBLEMS = (ALTERED, DELETED, INSERTED, REORDERED, HEAD_MISSING)
READ_BATCH = 1000

_ROW = (AUDIT.c.id, AUDIT.c.seq, AUDIT.c.at, AUDIT.c.actor, AUDIT.c.action, AUDIT.c.target, AUDIT.c.details,
        AUDIT.c.prev_hash, AUDIT.c.row_hash)


@dataclass(frozen=True)
class Problem:
    """The first broken or missing link: what is wrong (`PROBLEMS`), at which entry, and in words."""

    kind: str
    seq: int | None
    row_id: int | None
    message: str


@dataclass(frozen=True)
class Verdict:
    """What a check found: how many entries it read, the head and anchor it checked against, the problem."""

    ok: bool
    checked: int
    head: dict[str, Any] | None
    anchor: dict[str, Any] | None
    problem: Problem | None = None

    def as_dict(self) -> dict[str, Any]:
        """The verdict as JSON (`relief audit verify --json`, what the head keeps of the last check)."""
        found = asdict(self)
        found["problem"] = asdict(self.problem) if self.problem else None
        return found


def verify_chain(conn: Connection) -> Verdict:
    """Walk the chain from its anchor to its head on `conn` (read in one snapshot); stop at the first problem."""
    head = read_head(conn)
    if head is None:
        count = conn.execute(select(func.count()).select_from(AUDIT)).scalar_one()
        problem = None if count == 0 else Problem(
            HEAD_MISSING, None, None, f"链头记录缺失（审计日志有 {count} 条记录）：无法确认末尾的记录是否被删除")
        return Verdict(problem is None, 0, None, None, problem)
    rows = conn.execute(select(*_ROW).order_by(AUDIT.c.seq, AUDIT.c.id).execution_options(yield_per=READ_BATCH))
    checked, problem = _walk(conn, head, rows)
    return Verdict(problem is None, checked, {"seq": head.seq, "row_hash": head.row_hash},
                   {"seq": head.anchor_seq, "prev_hash": head.anchor_hash}, problem)


def _walk(conn: Connection, head: Head, rows: Iterable[Any]) -> tuple[int, Problem | None]:
    expected_seq, expected_prev, checked, previous = head.anchor_seq, head.anchor_hash, 0, None
    for row in rows:
        problem = _check(conn, row, expected_seq, expected_prev, head, previous)
        if problem is not None:
            return checked, problem
        expected_seq, expected_prev, checked, previous = row.seq + 1, row.row_hash, checked + 1, row.id
    if expected_seq <= head.seq:
        first = f"第 {expected_seq} 条" if expected_seq == head.seq else f"第 {expected_seq}–{head.seq} 条"
        return checked, Problem(DELETED, expected_seq, None, f"{first}记录缺失（链头记录到第 {head.seq} 条）")
    if expected_prev != head.row_hash:
        return checked, Problem(ALTERED, head.seq, None, f"第 {head.seq} 条记录的校验值与链头记录的不一致：它已被改写")
    return checked, None


def _check(conn: Connection, row: Any, expected_seq: int, expected_prev: str, head: Head,
           previous: int | None) -> Problem | None:
    """The problem of one entry, given the seq and hash it should follow on from and the entry before it."""
    seq, row_id = row.seq, row.id
    if seq < expected_seq:
        where = "与前一条序号重复" if seq == expected_seq - 1 else f"在链的起点（第 {head.anchor_seq} 条）之前"
        return Problem(INSERTED, seq, row_id, f"第 {seq} 条记录（id {row_id}）{where}：它是插入的")
    if seq > head.seq:
        return Problem(INSERTED, seq, row_id,
                       f"第 {seq} 条记录（id {row_id}）在链头（第 {head.seq} 条）之后：它是插入的")
    if row_hash(row._mapping, row.prev_hash) != row.row_hash:
        return Problem(ALTERED, seq, row_id, f"第 {seq} 条记录（id {row_id}）的内容与其校验值不符：它已被修改")
    if seq > expected_seq:
        missing = f"第 {expected_seq} 条" if seq == expected_seq + 1 else f"第 {expected_seq}–{seq - 1} 条"
        return Problem(DELETED, expected_seq, row_id, f"{missing}记录缺失（在第 {seq} 条之前）：已被删除")
    if row.prev_hash != expected_prev:
        return _broken_link(conn, row, previous)
    return None


def _broken_link(conn: Connection, row: Any, previous: int | None) -> Problem:
    """Say how an entry that does not follow the one before it came to stand there."""
    seq, row_id = row.seq, row.id
    followed = conn.execute(select(AUDIT.c.seq).where(AUDIT.c.row_hash == row.prev_hash, AUDIT.c.id != row_id)
                            .limit(1)).scalar()
    if followed is None and previous is None:
        return Problem(ALTERED, seq, row_id, f"第 {seq} 条记录（id {row_id}）与链的起点不衔接：起点或它已被改写")
    if followed is None:
        # The entry before it passes its own check but is not the one this entry was written after.
        return Problem(ALTERED, seq - 1, previous, f"第 {seq - 1} 条记录（id {previous}）已被改写并重新计算了校验值"
                                                   f"（第 {seq} 条写入时接续的不是它）")
    if followed > seq:
        return Problem(REORDERED, seq, row_id,
                       f"第 {seq} 条记录（id {row_id}）写入时接在第 {followed} 条之后：记录顺序被调换")
    first = followed + 1
    between = f"第 {first} 条" if first == seq - 1 else f"第 {first}–{seq - 1} 条"
    inserted = conn.execute(select(AUDIT.c.id).where(AUDIT.c.seq == first).limit(1)).scalar()
    return Problem(INSERTED, first, inserted,
                   f"第 {seq} 条记录（id {row_id}）写入时接在第 {followed} 条之后：{between}记录是插入的")
