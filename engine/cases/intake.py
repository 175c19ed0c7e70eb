"""Intake (R-5.1): validate an applicant's request and register it under a new case number."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite

from engine import reference
from engine.access.personal_data import normalize_id_number, validate_id_number, validate_phone
from engine.errors import InvalidData
from engine.models import Application, CaseSequence

CHANNELS = ("window", "online", "terminal", "hotline")
LEVELS = ("county", "township", "village")
CASE_PREFIX = "SJ"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def _text(applicant: dict[str, Any], key: str) -> str:
    value = applicant.get(key)
    return value.strip() if isinstance(value, str) else ""


def applicant_errors(applicant: dict[str, Any], channel: str, level: str,
                     allow_missing_id: bool = False) -> dict[str, list[str]]:
    """Check an applicant record; return field → Chinese messages (empty when valid).

    `allow_missing_id` is for channels that never learn the ID number (12345): an absent
    number is accepted, a given one must still be valid.
    """
    errors: dict[str, list[str]] = {}
    if channel not in CHANNELS:
        errors["channel"] = [f"受理渠道应为 {'、'.join(CHANNELS)} 之一"]
    if level not in LEVELS:
        errors["level"] = [f"受理层级应为 {'、'.join(LEVELS)} 之一"]
    if not _text(applicant, "name"):
        errors["name"] = ["请填写申请人姓名"]
    id_number = _text(applicant, "id_number")
    id_error = None if allow_missing_id and not id_number else validate_id_number(id_number)
    if id_error:
        errors["id_number"] = [id_error]
    phone_error = validate_phone(_text(applicant, "phone"))
    if phone_error:
        errors["phone"] = [phone_error]
    region = applicant.get("region")
    if not isinstance(region, dict) or not str(region.get("township") or "").strip():
        errors["region.township"] = ["请填写所在乡镇(街道)"]
    if not _text(applicant, "request"):
        errors["request"] = ["请填写救助诉求"]
    matters = applicant.get("matters") or []
    unknown = [str(m) for m in matters if m not in reference.matters()] if isinstance(matters, list) else ["?"]
    if unknown:
        errors["matters"] = [f"事项清单中没有：{'、'.join(unknown)}"]
    _length_errors(applicant, errors)
    return errors


# Column sizes of the application table: longer input is refused, never cut or left to the database.
MAX_LENGTHS = {"name": 100, "phone": 30, "address": 300, "request": 4000}
MAX_REGION_LENGTH = 60


def _length_errors(applicant: dict[str, Any], errors: dict[str, list[str]]) -> None:
    for key, limit in MAX_LENGTHS.items():
        if len(_text(applicant, key)) > limit:
            errors.setdefault(key, []).append(f"不能超过 {limit} 个字")
    region = applicant.get("region")
    if isinstance(region, dict):
        for key in ("township", "village"):
            if len(str(region.get(key) or "")) > MAX_REGION_LENGTH:
                errors.setdefault(f"region.{key}", []).append(f"不能超过 {MAX_REGION_LENGTH} 个字")


_UPSERTS: dict[str, Any] = {}


def _sequence_upsert(dialect: str) -> Any:
    statement = _UPSERTS.get(dialect)
    if statement is None:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(CaseSequence).values(day=bindparam("day"), last=1).on_conflict_do_update(
            index_elements=[CaseSequence.day], set_={"last": CaseSequence.last + 1}).returning(CaseSequence.last)
        _UPSERTS[dialect] = statement
    return statement


def next_case_no(conn: Connection, at: datetime) -> str:
    """Allocate the next case number of the local day, e.g. SJ202611280001."""
    day = at.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    number = conn.execute(_sequence_upsert(conn.dialect.name), {"day": day}).scalar_one()
    return f"{CASE_PREFIX}{day}{number:04d}"


@dataclass(frozen=True)
class Registered:
    """An application as stored: what the flow needs to start."""

    case_no: str
    channel: str
    level: str
    request: str
    township: str
    village: str | None
    matters: list[str]


_INSERT_APPLICATION = insert(cast(Table, Application.__table__))


def query_code_hash(case_no: str, code: str) -> str:
    """Hash of an online applicant's query code (查询码), bound to the case number."""
    return hashlib.sha256(f"{case_no}:{code.strip().upper()}".encode()).hexdigest()


def register(conn: Connection, applicant: dict[str, Any], channel: str, level: str, green_channel: bool,
             at: datetime, registered_by: str | None = None, registered_org: str | None = None,
             query_code: str | None = None, allow_missing_id: bool = False) -> Registered:
    """Validate and store an application; raise InvalidData with field errors."""
    errors = applicant_errors(applicant, channel, level, allow_missing_id)
    if errors:
        raise InvalidData("申请信息有误，请修改后重新提交", errors)
    region = applicant["region"]
    registered = Registered(
        case_no=next_case_no(conn, at), channel=channel, level=level, request=_text(applicant, "request"),
        township=str(region["township"]).strip(), village=(str(region.get("village") or "").strip() or None),
        matters=[str(m) for m in applicant.get("matters") or []])
    conn.execute(_INSERT_APPLICATION, {
        "case_no": registered.case_no, "channel": channel, "level": level, "green_channel": green_channel,
        "applicant_name": _text(applicant, "name"), "phone": _text(applicant, "phone"),
        "id_number": normalize_id_number(_text(applicant, "id_number")),
        "township": registered.township, "village": registered.village,
        "address": _text(applicant, "address") or None, "request": registered.request,
        "matters": registered.matters, "created_at": at, "registered_by": registered_by,
        "registered_org": registered_org,
        "query_code_hash": query_code_hash(registered.case_no, query_code) if query_code else None})
    return registered
