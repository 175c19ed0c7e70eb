"""`relief archive run|show|verify`: the electronic archive of ended cases (电子化归档 R-6.1.2.2)."""

from __future__ import annotations

from typing import Any

import click

from engine.cli.common import Context, emit, fail, handles_refusals, pass_context, pass_json

PROBLEMS = {"missing": "缺失", "altered": "已被改动", "unlisted": "不在清单中"}


@click.group()
def archive() -> None:
    """电子档案：生成、查看、校验 (the electronic archive)."""


@archive.command("run")
@pass_json
@pass_context
@handles_refusals
def archive_run(ctx: Context, as_json: bool) -> None:
    """Build every archive version that is due now (the deadline jobs build a few per tick)."""
    report = ctx.engine.archives.run()
    emit(as_json, report, lambda r: "\n".join(
        [f"已归档 {len(r['archived'])} 个版本，失败 {len(r['failed'])} 个（稍后重试）",
         *(f"  {a['case_no']} 第 {a['version']} 版 档号 {a['archive_no']}" for a in r["archived"]),
         *(f"  {f['case_no']} 第 {f['version']} 版 失败：{f['error']}" for f in r["failed"])]))


def _version_line(v: dict[str, Any]) -> str:
    line = f"  第 {v['version']} 版 {v['status']} 档号 {v['archive_no'] or '—'} 保管期限 {v['retention'] or '—'}"
    if v.get("error"):
        line += f"（上次失败：{v['error']}）"
    return line


@archive.command("show")
@click.argument("case_no")
@pass_json
@pass_context
@handles_refusals
def archive_show(ctx: Context, case_no: str, as_json: bool) -> None:
    """Show a case's archive versions and the files each archived one lists."""
    found = ctx.engine.archives.show(case_no)
    emit(as_json, found, lambda p: "\n".join([f"案件 {p['case_no']} 的电子档案：", *map(_version_line, p["versions"])]
                                            if p["versions"] else [f"案件 {p['case_no']} 尚无电子档案"]))


@archive.command("verify")
@click.argument("case_no", required=False)
@pass_json
@pass_context
@handles_refusals
def archive_verify(ctx: Context, case_no: str | None, as_json: bool) -> None:
    """Check every archived version (or CASE_NO's) against its manifest; exit 1 listing what is altered or missing."""
    report = ctx.engine.archives.verify(case_no)
    if report["ok"]:
        emit(as_json, report, lambda r: f"已校验 {r['checked']} 个归档版本，全部完好")
        return
    lines = [f"  {p['file']}：{PROBLEMS.get(p['problem'], p['problem'])}" for p in report["problems"]]
    fail(as_json, {"error": "archive_damaged", "message": f"{len(report['problems'])} 个档案文件缺失或被改动",
                   **report}, "\n".join([f"已校验 {report['checked']} 个归档版本，发现问题：", *lines]))


COMMANDS = (archive,)
