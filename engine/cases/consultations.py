"""Consultations at a window (咨询登记, R-5.1.1): recorded for statistics, no process is started.

Also the check that a township/village pair names real organisations of the county, which the
window and online application forms share.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine import reference
from engine.access.personal_data import validate_phone
from engine.errors import InvalidData
from engine.models import Consultation, Organisation

MAX_LENGTHS = {"name": 50, "question": 2000, "answer": 2000}


def region_errors(session: Session, township: str, village: str | None,
                  township_required: bool = True) -> dict[str, list[str]]:
    """Check that the township exists and the village (if any) lies in it; return field → messages."""
    errors: dict[str, list[str]] = {}
    town = session.get(Organisation, township) if township else None
    if not township:
        if township_required:
            errors["township"] = ["请选择所在乡镇(街道)"]
    elif town is None or town.kind != "township":
        errors["township"] = [f"未知的乡镇(街道)：{township}"]
    if village:
        place = session.get(Organisation, village)
        if place is None or place.kind != "village":
            errors["village"] = [f"未知的村(社区)：{village}"]
        elif town is not None and place.parent_code != town.code:
            errors["village"] = [f"{place.name}不属于{town.name}，请重新选择"]
        elif town is None and not errors.get("township"):
            errors["village"] = ["请先选择村(社区)所在的乡镇(街道)"]
    return errors


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def consultation_errors(session: Session, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Check a consultation record; return field → Chinese messages (empty when valid)."""
    errors: dict[str, list[str]] = {}
    if not _text(data, "name"):
        errors["name"] = ["请填写咨询人姓名"]
    phone = _text(data, "phone")
    phone_error = validate_phone(phone) if phone else None
    if phone_error:
        errors["phone"] = [phone_error]
    errors.update(region_errors(session, _text(data, "township"), _text(data, "village") or None))
    if not _text(data, "question"):
        errors["question"] = ["请填写咨询的问题"]
    for key, limit in MAX_LENGTHS.items():
        if len(_text(data, key)) > limit:
            errors[key] = [f"不能超过 {limit} 个字"]
    matters = data.get("matters") or []
    known = reference.matters()
    unknown = [str(m) for m in matters if m not in known] if isinstance(matters, list) else ["?"]
    if unknown:
        errors["matters"] = [f"事项清单中没有：{'、'.join(unknown)}"]
    return errors


def register_consultation(session: Session, data: Mapping[str, Any], registered_by: str, registered_org: str,
                          at: datetime) -> Consultation:
    """Validate and store a consultation (in the caller's transaction); raise InvalidData with field errors."""
    errors = consultation_errors(session, data)
    if errors:
        raise InvalidData("咨询登记信息有误，请修改后重新提交", errors)
    row = Consultation(
        visitor_name=_text(data, "name"), phone=_text(data, "phone") or None,
        township=_text(data, "township") or None, village=_text(data, "village") or None,
        question=_text(data, "question"), answer=_text(data, "answer") or None,
        matters=[str(m) for m in data.get("matters") or []],
        registered_by=registered_by, registered_org=registered_org, created_at=at)
    session.add(row)
    session.flush()
    return row
