"""The `relief` command line: deploy the process, start cases, work tasks, inspect cases.

Every command takes `--json` and then prints exactly one JSON document on stdout; refusals
exit non-zero (1 for refused input, 2 for usage errors) with the reason in that document.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from engine import schema
from engine.bpmn.loader import BpmnRejected
from engine.errors import EngineError, InvalidData, TaskConflict

pass_json = click.option("--json", "as_json", is_flag=True, help="输出一个 JSON 文档 (print one JSON document)")


def _engine() -> Any:
    from engine.cases.runtime import CaseEngine

    return CaseEngine()


def _emit(as_json: bool, payload: Any, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        click.echo(human(payload) if human else json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def _fail(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        click.echo(text, err=True)
    sys.exit(1)


def handles_refusals(command: Callable[..., None]) -> Callable[..., None]:
    """Turn engine refusals into a JSON/Chinese error and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        as_json = bool(kwargs.get("as_json"))
        try:
            command(*args, **kwargs)
        except BpmnRejected as err:
            _fail(as_json, {"error": "rejected", "message": "BPMN 校验未通过",
                            "problems": [p.as_dict() for p in err.problems]},
                  "BPMN 校验未通过：\n" + "\n".join(f"  {p}" for p in err.problems))
        except EngineError as err:
            details = "".join(f"\n  {k}: {'；'.join(v)}" for k, v in getattr(err, "errors", {}).items())
            _fail(as_json, err.as_dict(), f"错误：{err.message}{details}")

    return wrapper


@click.group()
def main() -> None:
    """社会救助联动平台 (DB32/T 4012-2021) — engine administration."""


@main.command("init-db")
@pass_json
@handles_refusals
def init_db(as_json: bool) -> None:
    """Create or upgrade the database schema (Alembic)."""
    schema.upgrade()
    _emit(as_json, {"ok": True}, lambda _: "数据库结构已是最新")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "deployed_by", default="cli", help="部署人")
@click.option("--comment", default=None, help="版本说明")
@pass_json
@handles_refusals
def deploy(file: Path, deployed_by: str, comment: str | None, as_json: bool) -> None:
    """Validate a BPMN file and deploy it as a new version (no-op when unchanged)."""
    result = _engine().deploy(file.read_bytes(), file.name, deployed_by, comment)
    payload = {"key": result.key, "version": result.version, "changed": result.changed}
    _emit(as_json, payload,
          lambda p: f"{p['key']} 版本 {p['version']}" + ("（新部署）" if p["changed"] else "（未变化）"))


@main.group()
def case() -> None:
    """Cases (案件): start, show, suspend, resume, terminate, migrate."""


@case.command("start")
@click.option("--channel", type=click.Choice(["window", "online", "terminal", "hotline"]), required=True)
@click.option("--level", type=click.Choice(["county", "township", "village"]), required=True)
@click.option("--applicant", "applicant_file", type=click.File("r", encoding="utf-8"), required=True,
              help="申请人信息 JSON 文件 (name, id_number, phone, region, request)")
@click.option("--green-channel", is_flag=True, help="绿色通道 (R-6.3.5)")
@click.option("--by", "actor", default="cli", help="登记人")
@pass_json
@handles_refusals
def case_start(channel: str, level: str, applicant_file: Any, green_channel: bool, actor: str,
               as_json: bool) -> None:
    """Register an application and start its linkage process."""
    try:
        applicant = json.load(applicant_file)
    except json.JSONDecodeError as err:
        _fail(as_json, {"error": "invalid", "message": f"申请人文件不是合法的 JSON：{err}"}, f"错误：{err}")
        return
    case_no, instance_id = _engine().start_case(applicant, channel, level, green_channel, actor)
    _emit(as_json, {"case_no": case_no, "instance_id": instance_id}, lambda p: f"已登记案件 {p['case_no']}")


@case.command("show")
@click.argument("case_no")
@pass_json
@handles_refusals
def case_show(case_no: str, as_json: bool) -> None:
    """Show a case's status, open tasks and history."""
    _emit(as_json, _engine().show_case(case_no))


reason_option = click.option("--reason", required=True, help="操作原因（记入案件日志）")
actor_option = click.option("--by", "actor", default="cli", help="操作人")


def _status_line(payload: dict[str, Any]) -> str:
    from engine.cases.admin import STATUS_NAMES

    return f"案件 {payload['case_no']} 现为“{STATUS_NAMES.get(payload['status'], payload['status'])}”"


@case.command("suspend")
@click.argument("case_no")
@reason_option
@actor_option
@pass_json
@handles_refusals
def case_suspend(case_no: str, reason: str, actor: str, as_json: bool) -> None:
    """Suspend an open case (挂起): its tasks cannot be worked and its timers wait."""
    _emit(as_json, _engine().suspend_case(case_no, actor, reason), _status_line)


@case.command("resume")
@click.argument("case_no")
@reason_option
@actor_option
@pass_json
@handles_refusals
def case_resume(case_no: str, reason: str, actor: str, as_json: bool) -> None:
    """Resume a suspended case (恢复); timers that fell due meanwhile fire on the next tick."""
    _emit(as_json, _engine().resume_case(case_no, actor, reason), _status_line)


@case.command("terminate")
@click.argument("case_no")
@reason_option
@actor_option
@pass_json
@handles_refusals
def case_terminate(case_no: str, reason: str, actor: str, as_json: bool) -> None:
    """Terminate an open or suspended case (终止): cancel its workflow and open tasks. Final."""
    _emit(as_json, _engine().terminate_case(case_no, actor, reason),
          lambda p: f"{_status_line(p)}，取消待办 {len(p['cancelled_tasks'])} 个")


@case.command("migrate")
@click.argument("case_no")
@click.option("--to-version", "to_version", type=click.IntRange(min=1), required=True, help="目标流程版本")
@click.option("--reason", default=None, help="操作原因（默认“迁移至版本 N”）")
@actor_option
@pass_json
@handles_refusals
def case_migrate(case_no: str, to_version: int, reason: str | None, actor: str, as_json: bool) -> None:
    """Move a running case to another deployed version when its active tasks all exist there."""
    result = _engine().migrate_case(case_no, to_version, actor, reason or f"迁移至版本 {to_version}")
    _emit(as_json, result, lambda p: f"案件 {p['case_no']} 已从版本 {p['from_version']} 迁移至版本 {p['to_version']}")


@case.command("retry")
@click.argument("case_no")
@click.option("--task", "task_id", default=None, help="出错环节的任务 ID（只有一个出错环节时可省略）")
@click.option("--data", "data", default=None, help="修正数据，JSON 对象，合并到该环节数据")
@reason_option
@actor_option
@pass_json
@handles_refusals
def case_retry(case_no: str, task_id: str | None, data: str | None, reason: str, actor: str, as_json: bool) -> None:
    """Retry an errored step (重试) after merging corrected data into it."""
    engine = _engine()
    if task_id is None:
        errored = engine.errored_tasks(case_no)
        if len(errored) != 1:
            raise TaskConflict(f"案件 {case_no} 有 {len(errored)} 个出错环节，请用 --task 指定" if errored
                               else f"案件 {case_no} 没有出错环节，无需重试")
        task_id = str(errored[0]["id"])
    try:
        patch = json.loads(data) if data else None
    except ValueError as err:
        raise InvalidData("修正数据格式有误", {"data": [f"不是合法的 JSON：{err}"]}) from err
    _emit(as_json, engine.retry_task(case_no, task_id, patch, actor, reason), _status_line)


@main.group()
def task() -> None:
    """User tasks (待办任务): list and complete."""


@task.command("list")
@click.option("--group", default=None, help="候选组（角色或机构代码）")
@click.option("--case", "case_no", default=None, help="案件编号")
@pass_json
@handles_refusals
def task_list(group: str | None, case_no: str | None, as_json: bool) -> None:
    """List open user tasks."""
    _emit(as_json, _engine().list_tasks(group, case_no), _task_table)


def _task_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "没有待办任务"
    return "\n".join(f"{r['id']}  {r['case_no']}  {r['name']}  [{','.join(r['candidate_groups'])}]"
                     f"  截止 {r['due_at']}{'  已超期' if r['overdue'] else ''}" for r in rows)


@task.command("complete")
@click.argument("task_id")
@click.option("--user", required=True, help="办理人")
@click.option("--data", "data_json", required=True, help="表单数据 JSON")
@pass_json
@handles_refusals
def task_complete(task_id: str, user: str, data_json: str, as_json: bool) -> None:
    """Complete a user task with form data; print the case's open tasks afterwards."""
    try:
        data = json.loads(data_json)
    except json.JSONDecodeError as err:
        _fail(as_json, {"error": "invalid", "message": f"--data 不是合法的 JSON：{err}"}, f"错误：{err}")
        return
    if not isinstance(data, dict):
        _fail(as_json, {"error": "invalid", "message": "--data 应为 JSON 对象"}, "错误：--data 应为 JSON 对象")
    _emit(as_json, _engine().complete_task(task_id, user, data), _task_table)


def _session_run(work: Callable[[Any], Any]) -> Any:
    from engine import db

    with db.transaction() as session:
        return work(session)


@main.command("demo-data")
@pass_json
@handles_refusals
def demo_data(as_json: bool) -> None:
    """Load the demo county: the center, every department, two townships with two villages each, demo users."""
    from engine import clock
    from engine.access.accounts import load_demo_data

    result = _session_run(lambda s: load_demo_data(s, clock.now()))
    _emit(as_json, result, lambda r: f"演示数据已加载：{r['organisations']} 个机构，新建 {r['users_created']} 个用户")


@main.group()
def org() -> None:
    """Organisations (机构)."""


@org.command("list")
@pass_json
@handles_refusals
def org_list(as_json: bool) -> None:
    """List organisations: code, name, kind, parent."""
    from engine.access.accounts import list_organisations

    rows = _session_run(list_organisations)
    _emit(as_json, rows, lambda rs: "\n".join(f"{r['code']:<14}{r['kind']:<13}{r['parent'] or '':<10}{r['name']}"
                                               for r in rs) or "没有机构（先运行 relief demo-data）")


@main.group()
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
@handles_refusals
def user_create(username: str, org_code: str, roles: tuple[str, ...], display_name: str | None,
                supervisor: bool, can_unmask: bool, as_json: bool) -> None:
    """Create a user; the password is read from standard input."""
    from engine import clock
    from engine.access.accounts import create_user

    password = sys.stdin.readline().rstrip("\n")
    created = _session_run(lambda s: create_user(s, username, password, org_code, list(roles), clock.now(),
                                                 display_name, can_unmask, supervisor).username)
    _emit(as_json, {"username": created, "org": org_code, "roles": list(roles)},
          lambda r: f"已创建用户 {r['username']}")


@main.group()
def token() -> None:
    """REST API tokens."""


@token.command("create")
@click.argument("username")
@pass_json
@handles_refusals
def token_create(username: str, as_json: bool) -> None:
    """Issue an API token (shown once; only its hash is stored)."""
    from engine import clock
    from engine.access.accounts import create_token

    issued = _session_run(lambda s: create_token(s, username, clock.now()))
    _emit(as_json, {"token": issued}, lambda r: r["token"])


@token.command("revoke")
@click.argument("username")
@pass_json
@handles_refusals
def token_revoke(username: str, as_json: bool) -> None:
    """Revoke every API token of a user."""
    from engine import clock
    from engine.access.accounts import revoke_tokens

    count = _session_run(lambda s: revoke_tokens(s, username, clock.now()))
    _emit(as_json, {"revoked": count}, lambda r: f"已吊销 {r['revoked']} 个令牌")


@main.group(invoke_without_command=True)
@click.pass_context
def scheduler(ctx: click.Context) -> None:
    """Deadlines: BPMN timers, overdue flags, reminders, notifications. Without a subcommand: `run`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(scheduler_run)


@scheduler.command("tick")
@click.option("--now", "now_text", default=None, help="ISO-8601 时间（默认当前时间）")
@pass_json
@handles_refusals
def scheduler_tick(now_text: str | None, as_json: bool) -> None:
    """Run every deadline job once with the given clock and print what it did."""
    from datetime import datetime

    from engine import clock
    from engine.deadlines.jobs import tick

    try:
        now = clock.aware(datetime.fromisoformat(now_text)) if now_text else clock.now()
    except ValueError:
        _fail(as_json, {"error": "invalid", "message": f"--now 不是 ISO-8601 时间：{now_text}"},
              "错误：--now 格式不正确")
        return
    report = tick(_engine(), now)
    _emit(as_json, report, lambda r: f"定时器触发 {len(r['timers_fired'])} 个，标记超期 {len(r['tasks_flagged'])} 个，"
                                      f"临期提醒 {len(r['reminders'])} 个，新通知 {r['notices_queued']} 条")


@scheduler.command("run")
@click.option("--interval", default=60, show_default=True, type=click.IntRange(min=1),
              help="两次检查之间的秒数 (seconds between runs)")
@click.option("--ttl", default=180, show_default=True, type=click.IntRange(min=2),
              help="租约有效秒数，须大于 --interval (lease TTL in seconds)")
@pass_json
@handles_refusals
def scheduler_run(interval: int, ttl: int, as_json: bool) -> None:
    """Run the deadline jobs every --interval seconds until SIGTERM/SIGINT; one process at a time holds the lease."""
    import logging

    from engine.db import default_database_url
    from engine.deadlines.scheduler import run_forever

    if ttl <= interval:
        _fail(as_json, {"error": "invalid", "message": "--ttl 必须大于 --interval"}, "错误：--ttl 必须大于 --interval")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    report = run_forever(default_database_url(), interval, ttl)
    _emit(as_json, report, lambda r: f"调度器已停止（{r['stopped_by']}），本进程共检查 {r['ticks']} 次")
