"""`relief backup DIR` and `relief restore DIR`: the database, uploads, archive and secret key together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from engine.cli.common import Context, emit, handles_refusals, pass_context, pass_json


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--by", "actor", default="cli", help="操作人（记入审计日志）")
@pass_json
@pass_context
@handles_refusals
def backup(ctx: Context, directory: Path, actor: str, as_json: bool) -> None:
    """Back up the database (a consistent snapshot, while the app runs), uploads, archive, catalog images and
    the secret key into DIRECTORY (new or empty), with manifest.json listing every file's SHA-256."""
    from engine.backup.service import create_backup

    manifest = create_backup(ctx.settings, directory, actor)
    summary = {k: v for k, v in manifest.items() if k != "files"}
    emit(as_json, {**summary, "directory": str(directory), "files": len(manifest["files"])}, _backup_line)


def _backup_line(r: dict[str, Any]) -> str:
    counts, database = r["counts"], r["database"]
    return (f"已备份到 {r['directory']}：{database['kind']} 数据库（结构版本 {database['alembic_revision']}），"
            f"案件 {counts.get('cases', 0)} 件，待办与已办任务 {counts.get('tasks', 0)} 个，文件 {r['files']} 个")


@click.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="目标数据库已有数据或目录已有文件时仍然恢复（覆盖）")
@click.option("--by", "actor", default="cli", help="操作人（记入审计日志）")
@pass_json
@pass_context
@handles_refusals
def restore(ctx: Context, directory: Path, force: bool, actor: str, as_json: bool) -> None:
    """Check a backup against its manifest, then restore it into the configured (empty) database and
    directories; stop the app and the scheduler first."""
    from engine.backup.service import restore_backup

    result = restore_backup(ctx.settings, directory, force, actor)
    emit(as_json, result, _restore_line)


def _restore_line(r: dict[str, Any]) -> str:
    line = (f"已从 {r['source']} 恢复（备份时间 {r['created_at']}）：案件 {r['counts'].get('cases', 0)} 件，"
            f"文件 {r['files']} 个")
    if r["upgrade_needed"]:
        line += f"\n备份的数据库结构版本为 {r['revision']}，请运行 relief init-db 升级到 {r['head']}"
    return line


COMMANDS = (backup, restore)
