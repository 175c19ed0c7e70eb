"""`relief init-db`, `deploy`, `demo-data`, `org`, `user`, `token` and `scheduler`: running the platform."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from engine.cli.common import Context, acting, emit, fail, handles_refusals, pass_context, pass_json


@click.command("init-db")
@pass_json
@pass_context
@handles_refusals
def init_db(ctx: Context, as_json: bool) -> None:
    """Create or upgrade the database schema (Alembic); on first set-up take the matter catalog from
    the data directory's matters.yaml."""
    from engine import schema

    schema.upgrade(ctx.settings.database_url)
    seeded = ctx.engine.catalog.ensure_seeded()
    seeded_text = f"；已从 matters.yaml 导入事项清单 {seeded} 项" if seeded else ""
    emit(as_json, {"ok": True, "matters_seeded": seeded}, lambda _: "数据库结构已是最新" + seeded_text)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "deployed_by", default="cli", help="部署人")
@click.option("--comment", default=None, help="版本说明")
@click.option("--despite-samples", is_flag=True, help="样例未通过也部署（管理员操作，须写明理由，记入审计日志）")
@click.option("--reason", default=None, help="越过样例部署的理由")
@pass_json
@pass_context
@handles_refusals
def deploy(ctx: Context, files: tuple[Path, ...], deployed_by: str, comment: str | None, despite_samples: bool,
           reason: str | None, as_json: bool) -> None:
    """Validate BPMN and DMN files (or a .zip of them) together, run the samples and deploy what changed.

    One file prints the result of its (first) process; several print a list, one entry per process or
    decision. A decision table of the repository that the processes use and that is not deployed yet is
    deployed with them."""
    from engine.bpmn.deployment import files_of  # a command's own import: `relief --help` stays quick

    found = [item for path in files for item in files_of(path.name, path.read_bytes())]
    results = ctx.engine.design.deploy_files(found, deployed_by, comment, despite_samples, reason)
    payloads = [_deployed(r) for r in results]
    emit(as_json, payloads[0] if len(found) == 1 else payloads,
         lambda p: "\n".join(_deployed_line(x) for x in (p if isinstance(p, list) else [p])))


def _deployed(result: Any) -> dict[str, Any]:
    payload = {"key": result.key, "version": result.version, "changed": result.changed}
    if result.layout_only:
        payload["layout_only"] = True
    if result.kind != "bpmn":
        payload["kind"] = result.kind
    return payload


def _deployed_line(p: dict[str, Any]) -> str:
    what = "决策表" if p.get("kind") == "dmn" else "流程"
    state = "（仅布局）" if p.get("layout_only") else "（新部署）" if p["changed"] else "（未变化）"
    return f"{what} {p['key']} 版本 {p['version']}{state}"


@click.command("demo-data")
@pass_json
@pass_context
@handles_refusals
def demo_data(ctx: Context, as_json: bool) -> None:
    """Load the demo county: the center, every department, two townships with two villages each, demo users."""
    result = ctx.engine.accounts.load_demo_data()
    emit(as_json, result, lambda r: f"演示数据已加载：{r['organisations']} 个机构，新建 {r['users_created']} 个用户")


@click.group()
def org() -> None:
    """Organisations (机构)."""


@org.command("list")
@pass_json
@pass_context
@handles_refusals
def org_list(ctx: Context, as_json: bool) -> None:
    """List organisations: code, name, kind, parent and the window's address, opening hours and phone."""
    rows = ctx.engine.accounts.organisations()
    emit(as_json, rows, lambda rs: "\n".join(f"{r['code']:<14}{r['kind']:<13}{r['parent'] or '':<10}{r['name']}"
                                              for r in rs) or "没有机构（先运行 relief demo-data）")


@org.command("set")
@click.argument("code")
@click.option("--address", default=None, help="窗口地址（空字符串表示不公布）")
@click.option("--hours", default=None, help="办公时间，如 周一至周五 8:30-12:00，14:00-17:30")
@click.option("--phone", default=None, help="联系电话，如 0512-61234567")
@click.option("--by", "actor", required=True, help="操作人（系统管理员的用户名，记入审计日志）")
@pass_json
@pass_context
@handles_refusals
def org_set(ctx: Context, code: str, address: str | None, hours: str | None, phone: str | None, actor: str,
            as_json: bool) -> None:
    """Set a window's address, opening hours and phone (办事大厅); the options not given stay as they are."""
    from engine.access.orgs import WINDOW_LABELS
    from engine.errors import InvalidData

    given = {k: v for k, v in (("address", address), ("hours", hours), ("phone", phone)) if v is not None}
    if not given:
        raise InvalidData("请至少指定 --address、--hours、--phone 中的一项", {"_form": ["没有要修改的内容"]})
    result = ctx.engine.accounts.set_window(acting(ctx, actor), code, given)
    emit(as_json, result, lambda r: "；".join(f"{WINDOW_LABELS[f]}：{old or '（空）'} → {new or '（空）'}"
                                             for f, (old, new) in r["changed"].items()) or "窗口信息没有变化")


@click.group()
def user() -> None:
    """Users (用户)."""


@user.command("create")
@click.argument("username")
@click.option("--org", "org_code", required=True, help="机构代码")
@click.option("--role", "roles", multiple=True, required=True, help="角色代码，可重复")
@click.option("--name", "display_name", default=None, help="姓名")
@click.option("--supervisor", is_flag=True, help="可向同事分派任务")
@click.option("--can-unmask", is_flag=True, help="可查看完整个人信息（每次查看留痕）")
@pass_json
@pass_context
@handles_refusals
def user_create(ctx: Context, username: str, org_code: str, roles: tuple[str, ...], display_name: str | None,
                supervisor: bool, can_unmask: bool, as_json: bool) -> None:
    """Create a user; the password is read from standard input."""
    password = sys.stdin.readline().rstrip("\n")
    created = ctx.engine.accounts.create_user(username, password, org_code, list(roles), display_name,
                                              can_unmask, supervisor)
    emit(as_json, {"username": created, "org": org_code, "roles": list(roles)}, lambda r: f"已创建用户 {r['username']}")


def _set_active(ctx: Context, username: str, actor: str, active: bool, as_json: bool) -> None:
    changed = ctx.engine.administration.set_user_active(acting(ctx, actor), username, active)
    state = "启用" if active else "停用"
    emit(as_json, {"username": username, "changed": changed},
         lambda r: f"已{state}用户 {username}" if r["changed"] else f"用户 {username} 已是{state}状态")


@user.command("disable")
@click.argument("username")
@click.option("--by", "actor", required=True, help="操作人（系统管理员的用户名，记入审计日志）")
@pass_json
@pass_context
@handles_refusals
def user_disable(ctx: Context, username: str, actor: str, as_json: bool) -> None:
    """Disable a user: no sign-in; their sessions and API tokens stop at once."""
    _set_active(ctx, username, actor, False, as_json)


@user.command("enable")
@click.argument("username")
@click.option("--by", "actor", required=True, help="操作人（系统管理员的用户名，记入审计日志）")
@pass_json
@pass_context
@handles_refusals
def user_enable(ctx: Context, username: str, actor: str, as_json: bool) -> None:
    """Enable a disabled user again."""
    _set_active(ctx, username, actor, True, as_json)


@user.command("reset-password")
@click.argument("username")
@click.option("--by", "actor", required=True, help="操作人（系统管理员的用户名，记入审计日志）")
@pass_json
@pass_context
@handles_refusals
def user_reset_password(ctx: Context, username: str, actor: str, as_json: bool) -> None:
    """Give a user a generated temporary password (printed once) that must be changed at the next sign-in."""
    password = ctx.engine.administration.reset_password(acting(ctx, actor), username)
    emit(as_json, {"username": username, "password": password}, lambda r: r["password"])


@click.group()
def token() -> None:
    """REST API tokens."""


@token.command("create")
@click.argument("username")
@pass_json
@pass_context
@handles_refusals
def token_create(ctx: Context, username: str, as_json: bool) -> None:
    """Issue an API token (shown once; only its hash is stored)."""
    emit(as_json, {"token": ctx.engine.accounts.create_token(username)}, lambda r: r["token"])


@token.command("revoke")
@click.argument("username")
@pass_json
@pass_context
@handles_refusals
def token_revoke(ctx: Context, username: str, as_json: bool) -> None:
    """Revoke every API token of a user."""
    emit(as_json, {"revoked": ctx.engine.accounts.revoke_tokens(username)}, lambda r: f"已吊销 {r['revoked']} 个令牌")


@click.group(invoke_without_command=True)
@click.pass_context
def scheduler(click_ctx: click.Context) -> None:
    """Deadlines: BPMN timers, overdue flags, reminders, notifications. Without a subcommand: `run`."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(scheduler_run)


@scheduler.command("tick")
@click.option("--now", "now_text", default=None, help="ISO-8601 时间（默认当前时间）")
@pass_json
@pass_context
@handles_refusals
def scheduler_tick(ctx: Context, now_text: str | None, as_json: bool) -> None:
    """Run every deadline job once with the given clock and print what it did."""
    from datetime import datetime

    from engine import clock
    from engine.deadlines.jobs import tick

    try:
        now = clock.aware(datetime.fromisoformat(now_text)) if now_text else clock.now()
    except ValueError:
        fail(as_json, {"error": "invalid", "message": f"--now 不是 ISO-8601 时间：{now_text}"},
             "错误：--now 格式不正确")
        return
    report = tick(ctx.engine, now)
    emit(as_json, report, lambda r: f"定时器触发 {len(r['timers_fired'])} 个，标记超期 {len(r['tasks_flagged'])} 个，"
                                     f"临期提醒 {len(r['reminders'])} 个，新通知 {r['notices_queued']} 条")


@scheduler.command("run")
@click.option("--interval", default=60, show_default=True, type=click.IntRange(min=1),
              help="两次检查之间的秒数 (seconds between runs)")
@click.option("--ttl", default=180, show_default=True, type=click.IntRange(min=2),
              help="租约有效秒数，须大于 --interval (lease TTL in seconds)")
@pass_json
@pass_context
@handles_refusals
def scheduler_run(ctx: Context, interval: int, ttl: int, as_json: bool) -> None:
    """Run the deadline jobs every --interval seconds until SIGTERM/SIGINT; one process at a time holds the lease."""
    from engine import logs
    from engine.deadlines.scheduler import run_forever

    if ttl <= interval:
        fail(as_json, {"error": "invalid", "message": "--ttl 必须大于 --interval"}, "错误：--ttl 必须大于 --interval")
        return
    logs.configure(ctx.settings.log_format)  # RELIEF_LOG_FORMAT: JSON lines in production
    report = run_forever(ctx.settings, interval, ttl)
    emit(as_json, report, lambda r: f"调度器已停止（{r['stopped_by']}），本进程共检查 {r['ticks']} 次")


@click.group()
def inbox() -> None:
    """The inbox index (待办索引)."""


@inbox.command("rebuild")
@pass_json
@pass_context
@handles_refusals
def inbox_rebuild(ctx: Context, as_json: bool) -> None:
    """Refile every open task of every open case in the inbox index (a repair; the engine keeps it itself)."""
    filed = ctx.engine.inbox.rebuild()
    emit(as_json, {"tasks_filed": filed}, lambda r: f"待办索引已重建：{r['tasks_filed']} 项待办")


COMMANDS = (init_db, deploy, demo_data, org, user, token, scheduler, inbox)
