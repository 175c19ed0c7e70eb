"""Organisations (R-6.1.4): the center, departments, the joint office, townships and villages, and the public
details of the windows they keep (办事大厅 R-6.2.1: address, opening hours, service phone).

`check_window` is the one rule for those details: the administrator's page, `relief org set` and the demo
county all go through it. '' means not published (the portal says 暂未公布 for that field).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, case, select
from sqlalchemy.orm import Session

from engine.errors import InvalidData, NotFound
from engine.i18n import _l
from engine.models import Organisation
from engine.paging import Page, paginate
from engine.tables import ORGS

ORG_KINDS = ("center", "department", "joint_office", "township", "village")
KIND_LABELS = {"center": _l("社会救助中心"), "department": _l("部门"), "joint_office": _l("联席会议办公室"),
               "township": _l("乡镇(街道)"), "village": _l("村(社区)")}
WINDOW_FIELDS = ("address", "hours", "phone")
WINDOW_LABELS = {"address": _l("地址"), "hours": _l("办公时间"), "phone": _l("联系电话")}
WINDOW_LIMITS = {"address": 200, "hours": 200, "phone": 40}
PHONE_DIGITS = (5, 20)  # from a short service number to a landline with its extension
PHONE_SHAPE = re.compile(r"[0-9](?:[0-9 -]*[0-9])?")
EXAMPLE_PHONE = "0512-61234567"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _lines(text: str) -> str:
    return "\n".join(line for line in (_one_line(part) for part in text.splitlines()) if line)


def _phone_problem(phone: str) -> str | None:
    if not PHONE_SHAPE.fullmatch(phone):
        return f"联系电话只能由数字、短横线（-）和空格组成，如 {EXAMPLE_PHONE}"
    digits = sum(c.isdigit() for c in phone)
    if not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]:
        return f"联系电话应有 {PHONE_DIGITS[0]} 至 {PHONE_DIGITS[1]} 位数字，如 {EXAMPLE_PHONE}"
    return None


def check_window(details: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The window details given (any of address, hours, phone) in normal form, and each field's problems.

    The address is one line; the opening hours may take several; the phone is read with full-width digits
    and dashes as their ASCII forms. An empty value clears the field."""
    unknown = sorted(set(details) - set(WINDOW_FIELDS))
    errors: dict[str, list[str]] = {"_form": [f"未知字段：{'、'.join(unknown)}"]} if unknown else {}
    normal: dict[str, str] = {}
    for field in WINDOW_FIELDS:
        if field not in details:
            continue
        raw = "" if details[field] is None else str(details[field])
        value = (_lines(raw) if field == "hours" else
                 _one_line(unicodedata.normalize("NFKC", raw)) if field == "phone" else _one_line(raw))
        limit = WINDOW_LIMITS[field]
        if len(value) > limit:
            errors[field] = [f"{WINDOW_LABELS[field]}不能超过 {limit} 个字（现有 {len(value)} 个）"]
        elif field == "phone" and value and (problem := _phone_problem(value)):
            errors[field] = [problem]
        normal[field] = value
    return normal, errors


def tel_uri(phone: str) -> str:
    """The phone as a tel: link (digits only: what every phone dials), '' for no phone."""
    digits = "".join(c for c in phone if c.isdigit())
    return f"tel:{digits}" if digits else ""


def window_of(org: Any) -> dict[str, str]:
    """An organisation's window details (from a model or a row)."""
    return {field: getattr(org, field) or "" for field in WINDOW_FIELDS}


def record_of(org: Any) -> dict[str, Any]:
    """An organisation as {code, name, kind, parent, address, hours, phone}."""
    return {"code": org.code, "name": org.name, "kind": org.kind, "parent": org.parent_code, **window_of(org)}


def list_organisations(session: Session) -> list[dict[str, Any]]:
    """Return every organisation as `record_of` says, parents first."""
    order = {kind: i for i, kind in enumerate(ORG_KINDS)}
    rows = session.scalars(select(Organisation)).all()
    return [record_of(o) for o in sorted(rows, key=lambda o: (order.get(o.kind, 9), o.code))]


def organisation_page(conn: Connection, page: int, per_page: int, kind: str = "") -> Page[dict[str, Any]]:
    """One page of the organisations (of one kind, when given), parents' kinds first, each with its parent's
    name."""
    parent = ORGS.alias("parent")
    order = case({k: i for i, k in enumerate(ORG_KINDS)}, value=ORGS.c.kind, else_=len(ORG_KINDS))
    query = (select(*ORGS.c, parent.c.name.label("parent_name"))
             .outerjoin(parent, parent.c.code == ORGS.c.parent_code).order_by(order, ORGS.c.code))
    if kind:
        query = query.where(ORGS.c.kind == kind)
    return paginate(conn, query, page, per_page, lambda r: {**record_of(r), "parent_name": r.parent_name})


def get_organisation(session: Session, code: str) -> Organisation:
    """The organisation `code`; NotFound when there is none."""
    org = session.get(Organisation, code)
    if org is None:
        raise NotFound(f"机构 {code} 不存在")
    return org


def set_window(org: Organisation, details: Mapping[str, Any]) -> dict[str, list[str]]:
    """Check and set the window details given; return what changed as {field: [old, new]}.

    :raises InvalidData: with every field's problem; nothing is changed then."""
    normal, errors = check_window(details)
    if errors:
        raise InvalidData(f"{org.name}的窗口信息有误，未保存", errors)
    changes = {f: [getattr(org, f) or "", v] for f, v in normal.items() if (getattr(org, f) or "") != v}
    for field, (_old, new) in changes.items():
        setattr(org, field, new)
    return changes


def upsert_organisation(session: Session, code: str, name: str, kind: str, parent: str | None,
                        window: Mapping[str, Any] | None = None) -> Organisation:
    """Create or update an organisation (and, when given, its window details)."""
    if kind not in ORG_KINDS:
        raise InvalidData("机构类型无效", {"kind": [f"应为 {'、'.join(ORG_KINDS)} 之一"]})
    if parent and session.get(Organisation, parent) is None:
        raise InvalidData("上级机构不存在", {"parent": [f"未知机构代码：{parent}"]})
    org = session.get(Organisation, code) or Organisation(code=code)
    org.name, org.kind, org.parent_code = name, kind, parent
    if window is not None:
        set_window(org, window)
    session.add(org)
    session.flush()
    return org
