"""`relief case …` and `relief task …`: start, show and administer cases; list and complete tasks."""

from __future__ import annotations

import json
from typing import Any

import click

from engine import status
from engine.cases.case_query import FILTER_FIELDS
from engine.cases.channels import CHANNELS, LEVELS
from engine.cases.export import FORMATS as EXPORT_FORMATS
from engine.cli.common import Context, emit, handles_refusals, pass_context, pass_json
from engine.errors import InvalidData, NotFound, TaskConflict
from engine.status import LINKAGE_PROCESS

reason_option = click.option("--reason", required=True, help="操作原因（记入案件日志）")
actor_option = click.option("--by", "actor", default="cli", help="操作人")


def _json_object(text: str, field: str, what: str) -> dict[str, Any]:
    """`text` parsed as a JSON object; a refusal naming `what` (exit 1) when it is not JSON or not an object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        message = f"{what}不是合法的 JSON（第 {err.lineno} 行第 {err.colno} 列）"
        raise InvalidData(message, {field: [message]}) from err
    if not isinstance(value, dict):
        raise InvalidData(f"{what}应为 JSON 对象", {field: ["应为 JSON 对象"]})
    return value


@click.group()
def case() -> None:
    """Cases (案件): start, show, suspend, resume, terminate, migrate, retry, export."""


@case.command("start")
@click.option("--process", "process_key", default=LINKAGE_PROCESS, show_default=True,
              help="要启动的流程标识；默认的联动流程须登记申请人")
@click.option("--data", "data_text", default=None, help="初始流程变量 JSON 对象（非联动流程）")
@click.option("--channel", type=click.Choice(CHANNELS), default=None, help="受理渠道（联动流程必填）")
@click.option("--level", type=click.Choice(LEVELS), default=None, help="受理层级（联动流程必填）")
@click.option("--applicant", "applicant_file", type=click.File("r", encoding="utf-8"), default=None,
              help="申请人信息 JSON 文件 (name, id_number, phone, region, request)（联动流程必填）")
@click.option("--green-channel", is_flag=True, help="绿色通道 (R-6.3.5)")
@click.option("--by", "actor", default="cli", help="登记人或发起人（工作人员用户名：未指定办理人的任务交给他）")
@pass_json
@pass_context
@handles_refusals
def case_start(ctx: Context, process_key: str, data_text: str | None, channel: str | None, level: str | None,
               applicant_file: Any, green_channel: bool, actor: str, as_json: bool) -> None:
    """Register an application and start its linkage process (checked like every other channel), or start
    any other deployed process with `--process KEY [--data JSON]`."""
    if process_key != LINKAGE_PROCESS:
        data = _json_object(data_text, "data", "--data") if data_text else {}
        case_no, instance_id = ctx.engine.start_process(process_key, data, actor)
        emit(as_json, {"case_no": case_no, "instance_id": instance_id, "process": process_key},
             lambda p: f"已启动流程 {p['process']}：{p['case_no']}")
        return
    missing = [name for name, value in (("--channel", channel), ("--level", level), ("--applicant", applicant_file))
               if value is None]
    if missing:
        raise InvalidData("联动流程须登记申请人", {"applicant": [f"请提供 {'、'.join(missing)}"]})
    applicant = _json_object(applicant_file.read(), "applicant", "申请人文件")
    case_no, instance_id = ctx.engine.start_case(applicant, str(channel), str(level), green_channel, actor)
    emit(as_json, {"case_no": case_no, "instance_id": instance_id}, lambda p: f"已登记案件 {p['case_no']}")


@case.command("message")
@click.argument("name")
@click.option("--data", "data_text", default=None, help="消息内容 JSON 对象（作为初始流程变量）")
@click.option("--by", "actor", default="cli", help="发送人")
@pass_json
@pass_context
@handles_refusals
def case_message(ctx: Context, name: str, data_text: str | None, actor: str, as_json: bool) -> None:
    """Send the message NAME: every process whose start event waits for it starts (a message start event)."""
    data = _json_object(data_text, "data", "--data") if data_text else {}
    started = ctx.engine.start_by_message(name, data, actor)
    emit(as_json, started, lambda p: "\n".join(f"已启动流程 {s['process']}：{s['case_no']}" for s in p))


@case.command("show")
@click.argument("case_no")
@pass_json
@pass_context
@handles_refusals
def case_show(ctx: Context, case_no: str, as_json: bool) -> None:
    """Show a case's status, open tasks and history."""
    emit(as_json, ctx.engine.queries.show_case(case_no))


def _status_line(payload: dict[str, Any]) -> str:
    return f"案件 {payload['case_no']} 现为“{status.label(payload['status'])}”"


def _status_command(name: str, method: str, summary: str) -> None:
    """Add `relief case NAME CASE_NO --reason … [--by …]` calling `CaseEngine.admin.METHOD`."""

    def run(ctx: Context, case_no: str, reason: str, actor: str, as_json: bool) -> None:
        result = getattr(ctx.engine.admin, method)(case_no, actor, reason)
        cancelled = result.get("cancelled_tasks")
        emit(as_json, result, lambda p: _status_line(p) + (f"，取消待办 {len(cancelled)} 个" if cancelled is not None
                                                            else ""))

    run.__doc__ = summary
    case.command(name)(click.argument("case_no")(reason_option(actor_option(pass_json(pass_context(
        handles_refusals(run)))))))


STATUS_COMMANDS = (
    ("suspend", "suspend_case", "Suspend an open case (挂起): its tasks cannot be worked and its timers wait."),
    ("resume", "resume_case", "Resume a suspended case (恢复); timers that fell due meanwhile fire on the next tick."),
    ("terminate", "terminate_case", "Terminate an open or suspended case (终止): cancel its workflow and its tasks."),
)
for _name, _method, _summary in STATUS_COMMANDS:
    _status_command(_name, _method, _summary)


@case.command("migrate")
@click.argument("case_no")
@click.option("--to-version", "to_version", type=click.IntRange(min=1), required=True, help="目标流程版本")
@click.option("--reason", default=None, help="操作原因（默认“迁移至版本 N”）")
@actor_option
@pass_json
@pass_context
@handles_refusals
def case_migrate(ctx: Context, case_no: str, to_version: int, reason: str | None, actor: str, as_json: bool) -> None:
    """Move a running case to another deployed version when its active tasks all exist there."""
    result = ctx.engine.admin.migrate_case(case_no, to_version, actor, reason or f"迁移至版本 {to_version}")
    emit(as_json, result, lambda p: f"案件 {p['case_no']} 已从版本 {p['from_version']} 迁移至版本 {p['to_version']}")


@case.command("retry")
@click.argument("case_no")
@click.option("--task", "task_id", default=None, help="出错环节的任务 ID（只有一个出错环节时可省略）")
@click.option("--data", "data", default=None, help="修正数据，JSON 对象，合并到该环节数据")
@reason_option
@actor_option
@pass_json
@pass_context
@handles_refusals
def case_retry(ctx: Context, case_no: str, task_id: str | None, data: str | None, reason: str, actor: str,
               as_json: bool) -> None:
    """Retry an errored step (重试) after merging corrected data into it."""
    admin = ctx.engine.admin
    if task_id is None:
        errored = admin.errored_tasks(case_no)
        if len(errored) != 1:
            raise TaskConflict(f"案件 {case_no} 有 {len(errored)} 个出错环节，请用 --task 指定" if errored
                               else f"案件 {case_no} 没有出错环节，无需重试")
        task_id = str(errored[0]["id"])
    patch = _json_object(data, "data", "修正数据") if data else None
    emit(as_json, admin.retry_task(case_no, task_id, patch, actor, reason), _status_line)


def _filter_options(command: Any) -> Any:
    """The case filter's options (`engine.cases.case_query`), named as on the query page with dashes."""
    for name in reversed(FILTER_FIELDS):
        flag = name in ("overdue", "green")
        option = click.option(f"--{name.replace('_', '-')}", name, is_flag=flag, default=False if flag else None,
                              help=FILTER_HELP.get(name, name))
        command = option(command)
    return command


FILTER_HELP = {"date_from": "登记日期起 YYYY-MM-DD（含）", "date_to": "登记日期止 YYYY-MM-DD（含）",
               "township": "乡镇(街道)代码", "village": "村(社区)代码", "matter": "事项代码",
               "assistance_type": "救助类型代码", "channel": "受理渠道", "level": "受理层级",
               "department": "部门代码", "status": "状态（running、completed … supplement）",
               "overdue": "只导出有任务超期的案件", "green": "只导出绿色通道案件",
               "satisfaction": "满意度（好差评等级代码）", "q": "案件编号或诉求内容包含"}


@case.command("export")
@click.option("--user", "username", required=True, help="以该用户的权限范围导出（记入审计日志）")
@click.option("--format", "fmt", type=click.Choice(tuple(EXPORT_FORMATS)), default="csv", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), required=True, help="输出文件")
@click.option("--unmask", is_flag=True, help="导出完整个人信息（须有查看完整信息权限，并填 --reason）")
@click.option("--reason", default=None, help="导出完整个人信息的原因")
@_filter_options
@pass_json
@pass_context
@handles_refusals
def case_export(ctx: Context, username: str, fmt: str, out: str, unmask: bool, reason: str | None, as_json: bool,
                **filters: Any) -> None:
    """Export the cases a filter names, in USER's scope, as CSV (UTF-8 with BOM) or XLSX; masked unless
    --unmask with --reason; audited as USER (the same export as the query page's)."""
    who = ctx.engine.accounts.principal_named(username)
    if who is None:
        raise NotFound(f"用户 {username} 不存在或已停用")
    args = {key: ("1" if value is True else str(value)) for key, value in filters.items() if value not in (None, False)}
    export = ctx.engine.exports.export(who, args, fmt, unmask=unmask, reason=reason)
    with open(out, "wb") as target:
        for chunk in export:
            target.write(chunk)
    emit(as_json, {"file": out, "format": fmt, "rows": export.rows, "masked": not unmask},
         lambda p: f"已导出 {p['rows']} 件案件到 {p['file']}")


@click.group()
def task() -> None:
    """User tasks (待办任务): list and complete."""


@task.command("list")
@click.option("--group", default=None, help="候选组（角色或机构代码）")
@click.option("--case", "case_no", default=None, help="案件编号")
@pass_json
@pass_context
@handles_refusals
def task_list(ctx: Context, group: str | None, case_no: str | None, as_json: bool) -> None:
    """List open user tasks."""
    emit(as_json, ctx.engine.queries.list_tasks(group, case_no), _task_table)


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
@pass_context
@handles_refusals
def task_complete(ctx: Context, task_id: str, user: str, data_json: str, as_json: bool) -> None:
    """Complete a user task with form data; print the case's open tasks afterwards."""
    data = _json_object(data_json, "data", "--data ")
    emit(as_json, ctx.engine.complete_task(task_id, user, data), _task_table)


COMMANDS = (case, task)
