"""批量导入用户 (R-6.1.4): users from a CSV (UTF-8, with or without BOM) or XLSX file with the columns
username, name, org_code, roles (several separated by ; 、 or |), supervisor, can_unmask (是/否, 1/0,
true/false; empty is 否).

Every row is checked first — the same check as one new user (`accounts.user_errors`), and no username twice
in the file; if any row is refused nothing is imported and each bad row's problems come back in Chinese
under 第 N 行 (N as a spreadsheet numbers it, the header being row 1). Each imported user gets a temporary
password, shown once on the result, that must be changed at the first sign-in.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy.orm import Session

from engine.access.accounts import create_user, temporary_password, user_errors
from engine.audit.chain import audit
from engine.errors import InvalidData
from engine.settings import Settings

COLUMNS = ("username", "name", "org_code", "roles", "supervisor", "can_unmask")
REQUIRED = ("username", "name", "org_code", "roles")
MAX_ROWS = 2000
EXAMPLE = ("clerk_t03", "城南街道窗口 张三", "T03", "clerk", "否", "否")
YES, NO = {"是", "1", "true", "yes", "y"}, {"", "否", "0", "false", "no", "n"}
FIELD_NAMES = {"username": "用户名", "org": "机构代码", "role": "角色", "name": "姓名", "supervisor": "主管",
               "can_unmask": "查看完整个人信息", "_file": "文件"}


def template(kind: str) -> bytes:
    """The import template (csv or xlsx): the header and one example row."""
    if kind == "xlsx":
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "users"
        sheet.append(list(COLUMNS))
        sheet.append(list(EXAMPLE))
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([COLUMNS, EXAMPLE])
    return ("\ufeff" + text.getvalue()).encode("utf-8")  # the BOM: Excel opens it as UTF-8


def read_rows(filename: str, data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (row number, {column: text}); InvalidData for an unreadable file or header."""
    try:
        if filename.lower().endswith(".xlsx"):
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
            table = [["" if v is None else str(v).strip() for v in row] for row in sheet.iter_rows(values_only=True)]
        elif filename.lower().endswith(".csv"):
            table = [[v.strip() for v in row] for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))]
        else:
            raise InvalidData("文件类型不支持", {"_file": ["请上传 .csv 或 .xlsx 文件（可先下载模板）"]})
    except (UnicodeDecodeError, csv.Error, OSError, KeyError, ValueError, IndexError) as error:
        raise InvalidData("无法读取文件", {"_file": [f"文件无法读取（CSV 须为 UTF-8 编码）：{error}"]}) from error
    if not table:
        raise InvalidData("文件为空", {"_file": ["文件为空：第 1 行应为表头 " + ",".join(COLUMNS)]})
    header = [h.lower() for h in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidData("表头不完整", {"_file": [f"第 1 行（表头）缺少列：{'、'.join(missing)}"]})
    rows = [(n, {c: (row[header.index(c)] if header.index(c) < len(row) else "") for c in COLUMNS if c in header})
            for n, row in enumerate(table[1:], start=2) if any(row)]
    if len(rows) > MAX_ROWS:
        raise InvalidData("行数过多", {"_file": [f"一次最多导入 {MAX_ROWS} 行，文件有 {len(rows)} 行"]})
    if not rows:
        raise InvalidData("没有数据", {"_file": ["表头以下没有数据行"]})
    return rows


def _flag(value: str) -> bool | None:
    lowered = value.strip().lower()
    return True if lowered in YES else False if lowered in NO else None


def _row_user(session: Session, settings: Settings, row: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    roles = [r for r in re.split(r"[;；、|,，\s]+", row.get("roles", "")) if r]
    username, name, org_code = row.get("username", ""), row.get("name", ""), row.get("org_code", "")
    user: dict[str, Any] = {"username": username, "name": name, "org_code": org_code, "roles": roles,
                            "supervisor": _flag(row.get("supervisor", "")),
                            "can_unmask": _flag(row.get("can_unmask", ""))}
    found = user_errors(session, settings, username, org_code, roles, None, name)
    if not user["name"]:
        found["name"] = ["请填写姓名"]
    for flag in ("supervisor", "can_unmask"):
        if user[flag] is None:
            found[flag] = [f"应为 是 或 否，实际为 {row.get(flag)}"]
    return user, [f"{FIELD_NAMES.get(field, field)}：{m}" for field, ms in found.items() for m in ms]


def import_users(session: Session, settings: Settings, filename: str, data: bytes, by: str,
                 at: datetime) -> list[dict[str, str]]:
    """Check every row, then create them all: [{username, name, org_code, password}] (each password shown
    once); InvalidData with {"第 N 行": [problems]} and nothing created when any row is refused."""
    rows = read_rows(filename, data)
    checked: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for number, row in rows:
        user, problems = _row_user(session, settings, row)
        if user["username"] in seen:
            problems.append(f"用户名：{user['username']} 与第 {seen[user['username']]} 行重复")
        seen.setdefault(user["username"], number)
        if problems:
            errors[f"第 {number} 行"] = problems
        checked.append(user)
    if errors:
        raise InvalidData(f"{len(errors)} 行有误，未导入任何用户；请改正后重新上传", errors)
    created = []
    for user in checked:
        password = temporary_password()
        create_user(session, settings, user["username"], password, user["org_code"], user["roles"], at, user["name"],
                    bool(user["can_unmask"]), bool(user["supervisor"]), by=by, must_change_password=True)
        created.append({"username": user["username"], "name": user["name"], "org_code": user["org_code"],
                        "password": password})
    audit(session, by, "users_imported", at, filename, count=len(created))
    return created
