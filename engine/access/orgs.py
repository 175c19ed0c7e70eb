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

from sqlalchemy import Connection, case, delete, func, insert, select
from sqlalchemy.orm import Session

from engine.errors import InvalidData, NotFound, TaskConflict
from engine.i18n import _l
from engine.models import Organisation
from engine.paging import Page, paginate
from engine.tables import MATTER, ORG_MATTER, ORGS

ORG_KINDS = ("center", "department", "joint_office", "township", "village")
KIND_LABELS = {"center": _l("社会救助中心"), "department": _l("部门"), "joint_office": _l("联席会议办公室"),
               "township": _l("乡镇(街道)"), "village": _l("村(社区)")}
WINDOW_FIELDS = ("address", "hours", "phone")
WINDOW_LABELS = {"address": _l("地址"), "hours": _l("办公时间"), "phone": _l("联系电话")}
WINDOW_LIMITS = {"address": 200, "hours": 200, "phone": 40}
PHONE_DIGITS = (5, 20)  # from a short service number to a landline with its extension
PHONE_SHAPE = re.compile(r"[0-9](?:[0-9 -]*[0-9])?")
EXAMPLE_PHONE = "0512-61234567"
# The county's shape: what each kind of organisation may sit under (the center at the top).
PARENT_KINDS: dict[str, tuple[str, ...]] = {"center": (), "department": ("center",), "joint_office": ("center",),
                                            "township": ("center",), "village": ("township",)}
CODE_SHAPE = re.compile(r"[A-Za-z0-9_]{1,60}")


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
    """An organisation as {code, name, kind, parent, active, address, hours, phone}."""
    return {"code": org.code, "name": org.name, "kind": org.kind, "parent": org.parent_code,
            "active": bool(getattr(org, "active", True)), **window_of(org)}


def list_organisations(session: Session) -> list[dict[str, Any]]:
    """Return every organisation as `record_of` says, parents first."""
    order = {kind: i for i, kind in enumerate(ORG_KINDS)}
    rows = session.scalars(select(Organisation)).all()
    return [record_of(o) for o in sorted(rows, key=lambda o: (order.get(o.kind, 9), o.code))]


def organisation_page(conn: Connection, page: int, per_page: int, kind: str = "", parent_code: str = "",
                      status: str = "") -> Page[dict[str, Any]]:
    """One page of the organisations (of one kind, under one parent, active or 停用, when given), parents'
    kinds first, each with its parent's name and the names of the matters its window takes."""
    parent = ORGS.alias("parent")
    order = case({k: i for i, k in enumerate(ORG_KINDS)}, value=ORGS.c.kind, else_=len(ORG_KINDS))
    query = (select(*ORGS.c, parent.c.name.label("parent_name"))
             .outerjoin(parent, parent.c.code == ORGS.c.parent_code).order_by(order, ORGS.c.code))
    if kind:
        query = query.where(ORGS.c.kind == kind)
    if parent_code:
        query = query.where(ORGS.c.parent_code == parent_code)
    if status in ("active", "inactive"):
        query = query.where(ORGS.c.active.is_(status == "active"))
    found = paginate(conn, query, page, per_page, lambda r: {**record_of(r), "parent_name": r.parent_name})
    matters = window_matters(conn, [o["code"] for o in found.items])
    for org in found.items:
        org["matters"] = matters.get(org["code"], [])
    return found


def window_matters(conn: Connection, codes: list[str], shown_only: bool = False) -> dict[str, list[dict[str, str]]]:
    """The matters each of these organisations' windows takes, {code, name} in the catalog's order;
    `shown_only`: those the public sees (not 停用)."""
    found: dict[str, list[dict[str, str]]] = {}
    if not codes:
        return found
    query = (select(ORG_MATTER.c.org_code, MATTER.c.code, MATTER.c.name)
             .join(MATTER, MATTER.c.code == ORG_MATTER.c.matter_code)
             .where(ORG_MATTER.c.org_code.in_(codes)).order_by(MATTER.c.position, MATTER.c.code))
    if shown_only:
        query = query.where(MATTER.c.status != "disabled")
    for row in conn.execute(query):
        found.setdefault(row.org_code, []).append({"code": row.code, "name": row.name})
    return found


def matter_choices(conn: Connection) -> list[dict[str, str]]:
    """Every matter of the catalog as {code, name, status}, in its order (the window's checkboxes)."""
    rows = conn.execute(select(MATTER.c.code, MATTER.c.name, MATTER.c.status).order_by(MATTER.c.position,
                                                                                       MATTER.c.code))
    return [dict(r._mapping) for r in rows]


def parent_choices(conn: Connection) -> list[dict[str, str]]:
    """The organisations that may be a parent (the center and the townships) as {code, name, kind, active}."""
    rows = conn.execute(select(ORGS.c.code, ORGS.c.name, ORGS.c.kind, ORGS.c.active)
                        .where(ORGS.c.kind.in_(("center", "township"))).order_by(ORGS.c.kind, ORGS.c.code))
    return [dict(r._mapping) for r in rows]


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


def _identity_errors(session: Session, name: str, kind: str, parent: str | None,
                     code: str | None = None) -> dict[str, list[str]]:
    """Problems with an organisation's name, kind and parent (the county's shape, `PARENT_KINDS`)."""
    errors: dict[str, list[str]] = {}
    if not name.strip() or len(name.strip()) > 200:
        errors["name"] = ["请填写机构名称（不超过 200 个字）"]
    if kind not in ORG_KINDS:
        errors["kind"] = [f"机构类型应为 {'、'.join(str(KIND_LABELS[k]) for k in ORG_KINDS)} 之一"]
        return errors
    wanted = PARENT_KINDS[kind]
    above = session.get(Organisation, parent) if parent else None
    if not wanted and parent:
        errors["parent"] = [f"{KIND_LABELS[kind]}没有上级机构"]
    elif wanted and above is None:
        errors["parent"] = [f"请选择上级机构（{'、'.join(str(KIND_LABELS[k]) for k in wanted)}）"]
    elif above is not None and above.kind not in wanted:
        errors["parent"] = [f"{KIND_LABELS[kind]}的上级应为{'、'.join(str(KIND_LABELS[k]) for k in wanted)}，"
                            f"{above.name}是{KIND_LABELS.get(above.kind, above.kind)}"]
    elif above is not None and not above.active and (code is None or above.code != _parent_of(session, code)):
        errors["parent"] = [f"{above.name}已停用，不能在其下新建或调入机构"]
    if kind == "center" and session.scalar(select(func.count()).select_from(ORGS).where(
            ORGS.c.kind == "center", ORGS.c.code != (code or ""))):
        errors["kind"] = ["本县已有社会救助中心"]
    return errors


def _parent_of(session: Session, code: str) -> str | None:
    org = session.get(Organisation, code)
    return org.parent_code if org is not None else None


def set_window_matters(session: Session, org: Organisation, codes: list[str]) -> list[list[str]] | None:
    """Set the matters the window takes; [old, new] (sorted codes) when they changed, else None.

    :raises InvalidData: for a code the catalog does not have."""
    wanted = sorted(set(codes))
    known = set(session.scalars(select(MATTER.c.code).where(MATTER.c.code.in_(wanted)))) if wanted else set()
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise InvalidData("事项有误", {"matters": [f"事项清单中没有：{'、'.join(unknown)}"]})
    old = sorted(session.scalars(select(ORG_MATTER.c.matter_code).where(ORG_MATTER.c.org_code == org.code)))
    if old == wanted:
        return None
    session.execute(delete(ORG_MATTER).where(ORG_MATTER.c.org_code == org.code))
    if wanted:
        session.execute(insert(ORG_MATTER), [{"org_code": org.code, "matter_code": c} for c in wanted])
    return [old, wanted]


def create_organisation(session: Session, fields: Mapping[str, Any]) -> Organisation:
    """A new organisation from {code, name, kind, parent, address, hours, phone, matters}; every problem
    at once as InvalidData, nothing created then."""
    code = str(fields.get("code") or "").strip()
    name, kind = str(fields.get("name") or "").strip(), str(fields.get("kind") or "")
    parent = str(fields.get("parent") or "") or None
    errors = _identity_errors(session, name, kind, parent)
    if not CODE_SHAPE.fullmatch(code):
        errors["code"] = ["机构代码只能由字母、数字和下划线组成（不超过 60 个字符），如 T03 或 T03V01"]
    elif session.get(Organisation, code) is not None:
        errors["code"] = [f"机构代码 {code} 已被使用"]
    window, window_errors = check_window({f: fields.get(f, "") for f in WINDOW_FIELDS})
    errors.update(window_errors)
    if errors:
        raise InvalidData("无法新建机构", errors)
    org = Organisation(code=code, name=name, kind=kind, parent_code=parent, active=True, **window)
    session.add(org)
    session.flush()
    set_window_matters(session, org, list(fields.get("matters") or []))
    return org


def edit_organisation(session: Session, org: Organisation, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Change an organisation's name, parent, window details and matters (those given; its kind and code
    stay); return {field: [old, new]}. Every problem at once as InvalidData, nothing changed then."""
    name = str(fields.get("name", org.name)).strip()
    parent = (str(fields.get("parent") or "") or None) if "parent" in fields else org.parent_code
    errors = _identity_errors(session, name, org.kind, parent, org.code)
    window, window_errors = check_window({f: fields[f] for f in WINDOW_FIELDS if f in fields})
    errors.update(window_errors)
    if errors:
        raise InvalidData(f"{org.name}的信息有误，未保存", errors)
    changes: dict[str, Any] = {f: [old, new] for f, old, new in (("name", org.name, name),
                                                                   ("parent", org.parent_code, parent)) if old != new}
    org.name, org.parent_code = name, parent
    changes.update(set_window(org, window))
    if "matters" in fields and (matters := set_window_matters(session, org, list(fields["matters"]))):
        changes["matters"] = matters
    session.flush()
    return changes


def set_org_active(session: Session, org: Organisation, active: bool) -> bool:
    """停用 or 启用 an organisation; False when it already was so. A parent is deactivated after its active
    children, and reactivated before them."""
    if org.active == active:
        return False
    if not active:
        children = session.scalars(select(Organisation.name).where(
            Organisation.parent_code == org.code, Organisation.active.is_(True))).all()
        if children:
            raise TaskConflict(f"请先停用{org.name}下仍在用的机构：{'、'.join(children)}")
    elif org.parent_code and not get_organisation(session, org.parent_code).active:
        raise TaskConflict(f"请先启用上级机构：{get_organisation(session, org.parent_code).name}")
    org.active = active
    return True
