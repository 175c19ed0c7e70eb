"""`relief matter list|show|export|import`: the matter catalog (事项清单 R-6.1.3.1) from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from engine.cli.common import Context, emit, handles_refusals, pass_context, pass_json


@click.group()
def matter() -> None:
    """事项清单：查看、导出、导入 (the matter catalog)."""


def _line(m: dict[str, Any]) -> str:
    from engine.catalog.records import STATUSES, label_of

    limit = f"{m['due_workdays']} 个工作日" if m["due_workdays"] is not None else "未定时限"
    return f"{m['code']:<26}{m['name']}（{label_of(STATUSES, m['status'])}，{limit}，第 {m['revision']} 版）"


def _public(m: dict[str, Any]) -> dict[str, Any]:
    return {**m, "updated_at": m["updated_at"].isoformat()}


@matter.command("list")
@pass_json
@pass_context
@handles_refusals
def matter_list(ctx: Context, as_json: bool) -> None:
    """List every matter in the catalog's order."""
    found = [_public(m) for m in ctx.engine.catalog.matters()]
    emit(as_json, found, lambda ms: "\n".join(_line(m) for m in ms))


@matter.command("show")
@click.argument("code")
@click.option("--revisions", is_flag=True, help="同时列出修订记录")
@pass_json
@pass_context
@handles_refusals
def matter_show(ctx: Context, code: str, revisions: bool, as_json: bool) -> None:
    """Show one matter (and, with --revisions, its revisions)."""
    from engine.catalog.service import change_text

    found = _public(ctx.engine.catalog.get(code))
    if revisions:
        found["revisions"] = [{"revision": r["revision"], "at": r["at"].isoformat(), "actor": r["actor"],
                               "reason": r["reason"], "changed": [change_text(c) for c in r["changes"]]}
                              for r in ctx.engine.catalog.revisions(code)]
    emit(as_json, found)


@matter.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@pass_json
@pass_context
@handles_refusals
def matter_export(ctx: Context, file: Path, as_json: bool) -> None:
    """Write the catalog to FILE (.yaml/.yml, or .xlsx for a spreadsheet)."""
    from engine.catalog import exchange

    kind = exchange.kind_of(file)
    records = ctx.engine.catalog.export()
    file.write_bytes(exchange.dump(records, kind))
    emit(as_json, {"file": str(file), "format": kind, "matters": len(records)},
         lambda p: f"已导出 {p['matters']} 个事项到 {p['file']}")


@matter.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reason", required=True, help="导入理由（记入每个改动的修订记录）")
@click.option("--by", "actor", default="cli", help="操作人")
@pass_json
@pass_context
@handles_refusals
def matter_import(ctx: Context, file: Path, reason: str, actor: str, as_json: bool) -> None:
    """Take FILE (.yaml/.yml/.xlsx) as the catalog: checked whole, written only if every entry passes."""
    from engine.catalog import exchange

    records = exchange.load(file.read_bytes(), exchange.kind_of(file))
    outcome = ctx.engine.catalog.import_records(actor, records, reason)
    emit(as_json, {key: len(codes) for key, codes in outcome.items()} | {"codes": outcome},
         lambda p: f"新增 {p['created']} 个、修改 {p['updated']} 个、未变 {p['unchanged']} 个事项")


COMMANDS = (matter,)
