"""`relief dashboard rebuild`: the dashboard's fact rows (数据汇聚展示, R-6.4.1) rewritten from the base tables."""

from __future__ import annotations

import click

from engine.cli.common import Context, emit, handles_refusals, pass_context, pass_json


@click.group()
def dashboard() -> None:
    """The dashboard's fact rows (数据看板)."""


@dashboard.command("rebuild")
@pass_json
@pass_context
@handles_refusals
def dashboard_rebuild(ctx: Context, as_json: bool) -> None:
    """Rewrite every case's dashboard rows from the base tables (a repair; the engine keeps them itself)."""
    cases = ctx.engine.dashboard.rebuild()
    emit(as_json, {"cases": cases}, lambda r: f"数据看板已重建：{r['cases']} 件案件")


COMMANDS = (dashboard,)
