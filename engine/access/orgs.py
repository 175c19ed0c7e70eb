"""Organisations (R-6.1.4): the center, departments, the joint office, townships and villages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidData
from engine.models import Organisation

ORG_KINDS = ("center", "department", "joint_office", "township", "village")


def list_organisations(session: Session) -> list[dict[str, Any]]:
    """Return every organisation as {code, name, kind, parent}, parents first."""
    order = {kind: i for i, kind in enumerate(ORG_KINDS)}
    rows = session.scalars(select(Organisation)).all()
    return [{"code": o.code, "name": o.name, "kind": o.kind, "parent": o.parent_code}
            for o in sorted(rows, key=lambda o: (order.get(o.kind, 9), o.code))]


def upsert_organisation(session: Session, code: str, name: str, kind: str, parent: str | None) -> Organisation:
    """Create or update an organisation."""
    if kind not in ORG_KINDS:
        raise InvalidData("机构类型无效", {"kind": [f"应为 {'、'.join(ORG_KINDS)} 之一"]})
    if parent and session.get(Organisation, parent) is None:
        raise InvalidData("上级机构不存在", {"parent": [f"未知机构代码：{parent}"]})
    org = session.get(Organisation, code) or Organisation(code=code)
    org.name, org.kind, org.parent_code = name, kind, parent
    session.add(org)
    session.flush()
    return org
