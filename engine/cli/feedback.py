"""`relief complaint file`: register a complaint (投诉反馈, R-6.3.6) from the shell, as any channel does."""

from __future__ import annotations

import click

from engine.cli.common import Context, emit, handles_refusals, pass_context, pass_json
from engine.status import COMPLAINT_CHANNELS


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


COMMANDS = (complaint,)
