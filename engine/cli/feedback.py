"""`relief case rate`, `relief feedback stats` and `relief complaint file`: 好差评 and 投诉反馈 (R-6.3.6) for
operators and scripts."""

from __future__ import annotations

from typing import Any

import click

from engine.cli.cases import case
from engine.cli.common import Context, emit, handles_refusals, pass_context, pass_json
from engine.errors import NotFound
from engine.feedback.statistics import DIMENSIONS
from engine.status import COMPLAINT_CHANNELS, RATING_CHANNELS


@case.command("rate")
@click.argument("case_no")
@click.option("--level", required=True, help="评价等级：非常满意、满意、基本满意、不满意、非常不满意（或其代码）")
@click.option("--channel", type=click.Choice(list(RATING_CHANNELS)), required=True, help="评价渠道")
@click.option("--tag", "tags", multiple=True, help="评价指标（名称或代码），可重复")
@click.option("--comment", default="", help="评语")
@click.option("--by", "actor", default="cli", help="记录人")
@pass_json
@pass_context
@handles_refusals
def case_rate(ctx: Context, case_no: str, level: str, channel: str, tags: tuple[str, ...], comment: str, actor: str,
              as_json: bool) -> None:
    """Rate an ended case once (a 差评 starts its rectification; after it, one 追评)."""
    ratings = ctx.engine.ratings
    done = ratings.rate_case(case_no, channel, ratings.level_code(level), ratings.tag_codes(channel, tags), comment,
                             actor=actor)
    emit(as_json, done, _rated_line)


def _rated_line(done: dict[str, Any]) -> str:
    line = f"已记录{'追评' if done['follow_up'] else '评价'}：{done['level_name']}"
    return line + (f"；已启动差评整改 {done['rectification_case_no']}" if done["rectification_case_no"] else "")


@click.group()
def feedback() -> None:
    """好差评 statistics."""


@feedback.command("stats")
@click.option("--by", type=click.Choice(list(DIMENSIONS)), default="month", show_default=True, help="统计维度")
@click.option("--since", default=None, help="起始月份，如 2026-01")
@click.option("--until", default=None, help="截止月份，如 2026-12")
@click.option("--user", "username", default=None, help="按该用户的权限范围统计（默认全县）")
@pass_json
@pass_context
@handles_refusals
def feedback_stats(ctx: Context, by: str, since: str | None, until: str | None, username: str | None,
                   as_json: bool) -> None:
    """满意率, 差评, 回访率 and 整改按期率 per month, matter, department, window or clerk."""
    engine = ctx.engine
    who = engine.accounts.principal_named(username) if username else None
    if username and who is None:
        raise NotFound(f"用户不存在或已停用：{username}")
    figures = engine.ratings.statistics(who, by, since, until)
    emit(as_json, figures, _stats_text)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _stats_text(figures: dict[str, Any]) -> str:
    lines = [f"{'':<16}{'评价':>6}{'满意率':>8}{'差评':>6}{'回访率':>8}{'整改按期率':>8}{'追评':>6}"]
    for row in [*figures["rows"], figures["total"]]:
        lines.append(f"{row['name'][:16]:<16}{row['total']:>6}{_percent(row['satisfied_rate']):>8}{row['poor']:>6}"
                     f"{_percent(row['callback_rate']):>8}{_percent(row['on_time_rate']):>8}{row['follow_ups']:>6}")
    return "\n".join(lines)



@click.group()
def complaint() -> None:
    """投诉反馈：登记投诉 (complaints)."""


@complaint.command("file")
@click.option("--channel", type=click.Choice(list(COMPLAINT_CHANNELS)), required=True,
              help="投诉渠道：portal 网上，window 窗口，hotline 12345，phone 监督投诉电话")
@click.option("--text", required=True, help="投诉内容")
@click.option("--type", "complaint_type", default="other", show_default=True,
              help="投诉类型代码（data/complaint_types.yaml）")
@click.option("--case", "case_no", default="", help="涉及的救助案件编号")
@click.option("--about", "about_org", default="", help="被投诉单位的机构代码或名称")
@click.option("--about-user", "about_user", default="", help="被投诉工作人员的用户名（不参与办理）")
@click.option("--name", default="", help="投诉人姓名（不填姓名和电话即为匿名）")
@click.option("--phone", default="", help="投诉人联系电话")
@click.option("--anonymous", is_flag=True, help="匿名投诉（不保存姓名和电话）")
@click.option("--by", "actor", default="cli", help="登记人")
@pass_json
@pass_context
@handles_refusals
def complaint_file(ctx: Context, channel: str, text: str, complaint_type: str, case_no: str, about_org: str,
                   about_user: str, name: str, phone: str, anonymous: bool, actor: str, as_json: bool) -> None:
    """Register a complaint and start its process; print its number (TS…) and query code."""
    from engine.cases.progress import new_query_code

    code = None if channel == "hotline" else new_query_code()
    data = {"complaint_type": complaint_type, "text": text, "case_no": case_no, "about_org": about_org,
            "about_user": about_user, "name": name, "phone": phone,
            "anonymous": anonymous or not (name or phone)}
    complaint_no = ctx.engine.complaints.file(channel, data, actor, query_code=code)
    emit(as_json, {"complaint_no": complaint_no, "query_code": code},
         lambda p: f"已登记投诉 {p['complaint_no']}" + (f"，查询码 {p['query_code']}" if p["query_code"] else ""))


COMMANDS = (feedback, complaint)
