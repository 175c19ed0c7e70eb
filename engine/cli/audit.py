"""`relief audit verify|prune`: the tamper-evident audit log (R-6.4.3) for operators and monitoring."""

from __future__ import annotations

from typing import Any

import click

from engine.cli.common import Context, emit, fail, handles_refusals, pass_context, pass_json


@click.group()
def audit() -> None:
    """The security audit log (审计日志)."""


@audit.command("verify")
@pass_json
@pass_context
@handles_refusals
def audit_verify(ctx: Context, as_json: bool) -> None:
    """Check the audit log's hash chain from its anchor to its head; exit 1 at the first broken or missing link.

    JSON: {"ok", "checked", "head": {"seq", "row_hash"}, "anchor": {"seq", "prev_hash"}, "problem": null or
    {"kind": altered|deleted|inserted|reordered|head_missing, "seq", "row_id", "message"}}. Keep the head's
    row_hash somewhere else too: a chain rewritten whole, head and all, is caught only against such a copy."""
    verdict = ctx.engine.audit.verify()
    payload = verdict.as_dict()
    if verdict.problem is not None:
        fail(as_json, payload, f"审计日志校验未通过：{verdict.problem.message}")
    emit(as_json, payload, _verified_line)


def _verified_line(payload: dict[str, Any]) -> str:
    head = payload["head"]
    if head is None or payload["checked"] == 0:
        return "审计日志校验通过：暂无记录"
    return (f"审计日志校验通过：第 {payload['anchor']['seq']}–{head['seq']} 条，共 {payload['checked']} 条；"
            f"链头校验值 {head['row_hash']}")


@audit.command("prune")
@click.option("--by", "actor", default="cli", help="操作人（记入审计日志）")
@pass_json
@pass_context
@handles_refusals
def audit_prune(ctx: Context, actor: str, as_json: bool) -> None:
    """Delete the entries older than RELIEF_AUDIT_RETENTION_DAYS from the chain's start (after a check;
    refused when they fail it) → {"pruned", "anchor_seq", "retention_days"}; the deadline jobs do it daily."""
    done = ctx.engine.audit.prune(actor=actor)
    emit(as_json, done, lambda d: f"已清理 {d['pruned']} 条超过 {d['retention_days']} 天的审计日志；"
                                  f"链从第 {d['anchor_seq']} 条起")


COMMANDS = (audit,)
