"""Intake (R-5.1): the one check of an application, from every channel, and its registration.

The window and portal forms, the REST API, 12345 work orders, the CLI and demo data all start a
case through `CaseEngine.start_case`, which runs `check_application` first: the same fields,
the same length limits, the same region rules (the township and village exist, the village lies
in the township, a village-level application names its village), the same messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite

from engine.access.personal_data import normalize_id_number, validate_id_number, validate_phone
from engine.cases.channels import CHANNELS, LEVELS
from engine.cases.regions import Region, resolve_region
from engine.clock import LOCAL_TZ
from engine.errors import InvalidData
from engine.models import CaseSequence
from engine.reference import ReferenceData
from engine.tables import APPLICATION

CASE_PREFIX = "SJ"
# Instances of other processes (started by key, not by an application): 流程 LC…, same daily counter.
PROCESS_PREFIX = "LC"
# Longest accepted text of each applicant field (the columns' sizes); longer input is refused,
# never cut. Forms, the OpenAPI document and the 12345 schema show the same numbers.
MAX_LENGTHS = {"name": 100, "id_number": 30, "phone": 30, "address": 300, "request": 4000}
INVALID_MESSAGE = "申请信息有误，请修改后重新提交"


def _text(applicant: Mapping[str, Any], key: str) -> str:
    value = applicant.get(key)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class CheckedApplication:
    """An application that passed `check_application`: trimmed texts, region as codes."""

    name: str
    id_number: str
    phone: str
    address: str | None
    request: str
    region: Region
    matters: list[str]
    # The applicant's situation (forms/situation.json), for the decision table's suggestion; may be empty.
    situation: dict[str, Any] = field(default_factory=dict)


def _field_errors(applicant: Mapping[str, Any], allow_missing_id: bool) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not _text(applicant, "name"):
        errors["name"] = ["请填写申请人姓名"]
    id_number = _text(applicant, "id_number")
    id_error = None if allow_missing_id and not id_number else validate_id_number(id_number)
    if id_error:
        errors["id_number"] = [id_error]
    phone_error = validate_phone(_text(applicant, "phone"))
    if phone_error:
        errors["phone"] = [phone_error]
    if not _text(applicant, "request"):
        errors["request"] = ["请填写救助诉求"]
    for key, limit in MAX_LENGTHS.items():
        value = applicant.get(key)
        if value is not None and not isinstance(value, str):
            errors[key] = ["应为文本"]
        elif len(_text(applicant, key)) > limit:
            errors.setdefault(key, []).append(f"不能超过 {limit} 个字")
    return errors


def check_application(conn: Connection, reference: ReferenceData, applicant: Mapping[str, Any], channel: str,
                      level: str, allow_missing_id: bool = False,
                      consent: bool | None = None) -> tuple[CheckedApplication | None, dict[str, list[str]]]:
    """Check an application; return it normalised, or None with field → Chinese messages.

    `allow_missing_id` is for channels that never learn the ID number (12345): an absent number is
    accepted, a given one must still be valid. `consent=False` (the portal's unticked box) is
    refused: an online applicant must agree to the processing of their personal data (R-6.4.3).
    """
    errors = _field_errors(applicant, allow_missing_id)
    if channel not in CHANNELS:
        errors["channel"] = [f"受理渠道应为 {'、'.join(CHANNELS)} 之一"]
    if level not in LEVELS:
        errors["level"] = [f"受理层级应为 {'、'.join(LEVELS)} 之一"]
    region, region_errors = resolve_region(conn, applicant.get("region"))
    errors.update(region_errors)
    if not region_errors and level == "village" and not region.get("village"):
        errors["region.village"] = ["村(社区)窗口登记的申请须选择申请人所在的村(社区)"]
    matters = applicant.get("matters") or []
    errors.update(reference.matter_errors(matters))
    if consent is False:
        errors["consent"] = ["请阅读并同意个人信息处理说明后再提交"]
    situation = applicant.get("situation") or {}
    if not isinstance(situation, Mapping):
        errors["situation"] = ["申请人情况应为对象"]
    if errors:
        return None, errors
    return CheckedApplication(
        name=_text(applicant, "name"), id_number=normalize_id_number(_text(applicant, "id_number")),
        phone=_text(applicant, "phone"), address=_text(applicant, "address") or None,
        request=_text(applicant, "request"), region=region, matters=list(dict.fromkeys(map(str, matters))),
        situation=dict(situation)), {}


_UPSERTS: dict[str, Any] = {}


def _sequence_upsert(dialect: str) -> Any:
    statement = _UPSERTS.get(dialect)
    if statement is None:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(CaseSequence).values(day=bindparam("day"), last=1).on_conflict_do_update(
            index_elements=[CaseSequence.day], set_={"last": CaseSequence.last + 1}).returning(CaseSequence.last)
        _UPSERTS[dialect] = statement
    return statement


def next_case_no(conn: Connection, at: datetime, prefix: str = CASE_PREFIX) -> str:
    """Allocate the next case number of the local day, e.g. SJ202611280001 (LC… for a process instance)."""
    day = at.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    number = conn.execute(_sequence_upsert(conn.dialect.name), {"day": day}).scalar_one()
    return f"{prefix}{day}{number:04d}"


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
    situation: dict[str, Any] = field(default_factory=dict)


_INSERT_APPLICATION = insert(APPLICATION)


def query_code_hash(case_no: str, code: str) -> str:
    """Hash of an online applicant's query code (查询码), bound to the case number."""
    return hashlib.sha256(f"{case_no}:{code.strip().upper()}".encode()).hexdigest()


def register(conn: Connection, checked: CheckedApplication, channel: str, level: str, green_channel: bool,
             at: datetime, registered_by: str | None = None, registered_org: str | None = None,
             query_code: str | None = None) -> Registered:
    """Store a checked application under a new case number."""
    township = str(checked.region["township"])
    registered = Registered(case_no=next_case_no(conn, at), channel=channel, level=level, request=checked.request,
                            township=township, village=checked.region.get("village"), matters=checked.matters,
                            situation=checked.situation)
    conn.execute(_INSERT_APPLICATION, {
        "case_no": registered.case_no, "channel": channel, "level": level, "green_channel": green_channel,
        "applicant_name": checked.name, "phone": checked.phone, "id_number": checked.id_number,
        "township": registered.township, "village": registered.village, "address": checked.address,
        "request": registered.request, "matters": registered.matters, "situation": registered.situation,
        "created_at": at,
        "registered_by": registered_by, "registered_org": registered_org,
        "query_code_hash": query_code_hash(registered.case_no, query_code) if query_code else None})
    return registered


def refuse(errors: Mapping[str, list[str]]) -> InvalidData:
    """The refusal of an application with these field errors."""
    return InvalidData(INVALID_MESSAGE, errors)
