"""`relief device create|list|revoke`: the windows' evaluation tablets (现场评价器, R-6.3.6) from the shell."""

from __future__ import annotations

from typing import Any

import click

from engine.cli.common import Context, acting, emit, handles_refusals, pass_context, pass_json


@click.group()
def device() -> None:
    """现场评价设备：登记、查看、停用 (the windows' rating tablets)."""


def _public(d: dict[str, Any]) -> dict[str, Any]:
    return {**d, **{k: d[k].isoformat() if d[k] else None for k in ("created_at", "last_used_at", "revoked_at")}}


def _line(d: dict[str, Any]) -> str:
    state = "在用" if d["live"] else "已停用"
    return f"{d['id']:<5}{d['name']}（{d['org_name']} · {d['clerk_name']}，{state}）"


@device.command("create")
@click.argument("name")
@click.option("--org", "org_code", required=True, help="窗口所在机构代码（社会救助中心、乡镇或村）")
@click.option("--clerk", required=True, help="该窗口工作人员的用户名")
@click.option("--by", "actor", required=True, help="操作人（系统管理员的用户名，记入审计日志）")
@pass_json
@pass_context
@handles_refusals
def device_create(ctx: Context, name: str, org_code: str, clerk: str, actor: str, as_json: bool) -> None:
    """Register a window's tablet; its token is printed this once (only its hash is kept)."""
    made = ctx.engine.devices.create(acting(ctx, actor), name, org_code, clerk)
    emit(as_json, _public(made), lambda d: f"已登记评价设备 {_line(d)}\n设备令牌（只显示这一次）：{d['token']}\n"
                                           "在窗口的平板上打开 /tablet/pair 输入令牌完成配对")


@device.command("list")
@pass_json
@pass_context
@handles_refusals
def device_list(ctx: Context, as_json: bool) -> None:
    """List the devices, the live ones first."""
    found = [_public(d) for d in ctx.engine.devices.list(None)]
    emit(as_json, found, lambda ds: "\n".join(_line(d) for d in ds) or "没有评价设备")


@device.command("revoke")
@click.argument("device_id", metavar="ID", type=int)
@click.option("--by", "actor", default=None, help="操作人（系统管理员的用户名；不填记为 cli）")
@pass_json
@pass_context
@handles_refusals
def device_revoke(ctx: Context, device_id: int, actor: str | None, as_json: bool) -> None:
    """Revoke a device: its tablet is refused from its next request on."""
    revoked = ctx.engine.devices.revoke(acting(ctx, actor), device_id)
    emit(as_json, _public(revoked), lambda d: f"已停用评价设备 {d['id']}：{d['name']}")


COMMANDS = (device,)
