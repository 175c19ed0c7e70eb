"""Keeping the audit log for `Settings.audit_retention_days` (at least six months) and no longer.

Pruning takes entries only from the start of the chain — every entry before the first one that is still
within the period — and moves the head's anchor to the first entry kept (its seq and prev_hash), so the
check starts there and the rest of the chain verifies as before. Entries that fail the check are evidence:
a prune that would remove them, or the link after them, is refused. The prune itself is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine.audit.chain import HEAD_ID, audit, locked_head
from engine.audit.verify import Verdict
from engine.errors import EngineError
from engine.tables import AUDIT, AUDIT_HEAD


class PruneRefused(EngineError):
    """The entries to be pruned do not pass the check: they stay until someone has looked at them."""

    code = "audit_broken"


def prune_before(session: Session, cutoff: datetime, verdict: Verdict, actor: str, now: datetime,
                 retention_days: int) -> dict[str, Any]:
    """Delete the chain's entries from its start up to the first at or after `cutoff` (never past what
    `verdict` checked), move the anchor there and audit it → {"pruned", "anchor_seq"}."""
    conn = session.connection()
    head = locked_head(conn)  # no entry is chained while the anchor moves
    checked_to = verdict.head["seq"] if verdict.head else 0
    first_kept = conn.execute(select(func.min(AUDIT.c.seq)).where(AUDIT.c.at >= cutoff)).scalar()
    keep_from = min(first_kept if first_kept is not None else head.seq + 1, checked_to + 1)
    if keep_from <= head.anchor_seq:
        return {"pruned": 0, "anchor_seq": head.anchor_seq}
    problem = verdict.problem
    if problem is not None and (problem.seq is None or problem.seq <= keep_from):
        raise PruneRefused(f"审计日志校验未通过（{problem.message}），涉及的记录不能清理：请先核查")
    kept = conn.execute(select(AUDIT.c.prev_hash).where(AUDIT.c.seq == keep_from)).scalar()
    anchor_hash = kept if kept is not None else head.row_hash
    pruned = conn.execute(delete(AUDIT).where(AUDIT.c.seq < keep_from)).rowcount or 0
    conn.execute(update(AUDIT_HEAD).where(AUDIT_HEAD.c.id == HEAD_ID)
                 .values(anchor_seq=keep_from, anchor_hash=anchor_hash))
    audit(session, actor, "audit_pruned", now, None, rows=pruned, before=cutoff.isoformat(),
          retention_days=retention_days, anchor_seq=keep_from)
    return {"pruned": pruned, "anchor_seq": keep_from}
