"""Consultations at a window (咨询登记, R-5.1.1): recorded for statistics, no process is started."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from engine import clock
from engine.access import scoping
from engine.access.accounts import Principal
from engine.access.personal_data import validate_phone
from engine.cases.intake import MAX_LENGTHS
from engine.cases.regions import resolve_region
from engine.cases.workflows import Workflows
from engine.errors import InvalidData
from engine.models import Consultation
from engine.reference import ReferenceData

LIMITS = {"name": MAX_LENGTHS["name"], "phone": MAX_LENGTHS["phone"], "question": 2000, "answer": 2000}


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def consultation_errors(conn: Connection, reference: ReferenceData, data: Mapping[str, Any]
                        ) -> tuple[dict[str, str | None], dict[str, list[str]]]:
    """Check a consultation record; return its region codes and field → Chinese messages."""
    errors: dict[str, list[str]] = {}
    if not _text(data, "name"):
        errors["name"] = ["请填写咨询人姓名"]
    phone = _text(data, "phone")
    phone_error = validate_phone(phone) if phone else None
    if phone_error:
        errors["phone"] = [phone_error]
    region, region_errors = resolve_region(conn, data.get("region"))
    errors.update(region_errors)
    if not _text(data, "question"):
        errors["question"] = ["请填写咨询的问题"]
    for key, limit in LIMITS.items():
        if len(_text(data, key)) > limit:
            errors[key] = [f"不能超过 {limit} 个字"]
    errors.update(reference.matter_errors(data.get("matters") or []))
    return region, errors


class Consultations:
    """Registering consultations at a window (`CaseEngine.consultations`)."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows

    def register(self, principal: Principal, data: Mapping[str, Any]) -> int:
        """Validate and store a consultation by a window clerk; raise InvalidData with field errors."""
        scoping.require(principal, "register")
        with self.workflows.transaction() as session:
            region, errors = consultation_errors(session.connection(), self.workflows.settings.reference, data)
            if errors:
                raise InvalidData("咨询登记信息有误，请修改后重新提交", errors)
            row = Consultation(
                visitor_name=_text(data, "name"), phone=_text(data, "phone") or None,
                township=region.get("township"), village=region.get("village"),
                question=_text(data, "question"), answer=_text(data, "answer") or None,
                matters=[str(m) for m in data.get("matters") or []],
                registered_by=principal.username, registered_org=principal.org_code, created_at=clock.now())
            session.add(row)
            session.flush()
            return row.id
