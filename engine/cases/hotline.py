"""12345 hotline work orders (R-5.1.3): check a pushed order, start its case exactly once, report back.

The 12345 platform pushes a work order (工单) through the data interface; the order number is
unique, and the platform retries, so registering is idempotent: a known order number answers
with the case it already started, whatever the body says now. The caller's name, phone and
address go to the application record like any applicant's (personal data stays there); the rest
of the order is kept as its payload. The hotline never learns an ID number, so none is required.
An order of type 投诉 is a complaint, not a request for relief: it starts the complaint process
(`engine.feedback.complaints`, numbered TS…), whose reply goes back to 12345 through the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from engine import clock, status, tables
from engine.access import scoping
from engine.access.accounts import Principal
from engine.access.personal_data import normalize_id_number, validate_id_number, validate_phone
from engine.cases import store
from engine.cases.intake import MAX_LENGTHS
from engine.cases.regions import MAX_REGION_TEXT, resolve_region
from engine.errors import InvalidData
from engine.tables import APPLICATION, COMPLAINT

if TYPE_CHECKING:
    from engine.cases.runtime import CaseEngine

CHANNEL = "hotline"
LEVEL = "county"  # 12345 hands its orders to the county platform, not to a township window
WORK_ORDER_TYPES = ("咨询", "求助", "投诉", "建议")
COMPLAINT_TYPE = "投诉"  # an order of this type starts the complaint process, not a relief case
STATUS_LABELS = {"received": "已签收", "handling": "办理中", "closed": "已办结"}
CLOCK_SKEW = timedelta(minutes=10)

# Fields that name or locate the caller: stored in the application row, never in the payload.
PERSONAL_FIELDS = {"caller": "applicant_name", "phone": "phone", "id_number": "id_number",
                   "address": "address", "content": "request"}
# The same of a complaint: stored in its complaint row (which keeps no address and no ID number).
COMPLAINT_FIELDS = {"caller": "name", "phone": "phone", "content": "text"}

FIELD_LABELS = {
    "order_no": "工单编号", "caller": "来电人", "phone": "联系电话", "content": "诉求内容",
    "type": "诉求类型", "region": "事发区划", "region.township": "乡镇(街道)", "region.village": "村(社区)",
    "time": "来电时间", "address": "事发地址", "id_number": "身份证号码",
}
_TYPE_NAMES = {"string": "文本", "object": "对象", "null": "空值", "array": "列表", "boolean": "布尔值"}
_ORDER_NO_PATTERN = "^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$"
_FILLED = r"\S"

WORK_ORDER_SCHEMA: dict[str, Any] = {
    "title": "12345 工单",
    "type": "object",
    "required": ["order_no", "caller", "phone", "content", "type", "region", "time"],
    "properties": {
        "order_no": {"type": "string", "pattern": _ORDER_NO_PATTERN, "description": "工单编号（唯一）",
                     "examples": ["GD202611280001"]},
        "caller": {"type": "string", "pattern": _FILLED, "maxLength": MAX_LENGTHS["name"], "description": "来电人"},
        "phone": {"type": "string", "maxLength": MAX_LENGTHS["phone"],
                  "description": "联系电话（手机或带区号的固定电话）"},
        "content": {"type": "string", "pattern": _FILLED, "maxLength": MAX_LENGTHS["request"],
                    "description": "诉求内容"},
        "type": {"type": "string", "enum": list(WORK_ORDER_TYPES), "description": "诉求类型"},
        "region": {
            "type": ["string", "object"], "maxLength": MAX_REGION_TEXT,
            "description": "事发区划：乡镇(街道)或村(社区)的代码或名称，或 {township, village}",
            "required": ["township"],
            "properties": {
                "township": {"type": "string", "pattern": _FILLED, "maxLength": MAX_REGION_TEXT},
                "village": {"type": ["string", "null"], "maxLength": MAX_REGION_TEXT},
            },
        },
        "time": {"type": "string", "maxLength": 40, "description": "来电时间（ISO 8601；无时区按北京时间）",
                 "examples": ["2026-11-28T09:30:00+08:00"]},
        "address": {"type": "string", "maxLength": MAX_LENGTHS["address"], "description": "事发地址（可选）"},
        "id_number": {"type": "string", "maxLength": MAX_LENGTHS["id_number"],
                      "description": "身份证号码（可选，热线通常没有）"},
        "complaint_type": {"type": "string", "maxLength": 40,
                           "description": "投诉类型代码（可选，仅诉求类型为投诉时；见 data/complaint_types.yaml，"
                                          "默认 other）"},
        "about_org": {"type": "string", "maxLength": 200,
                      "description": "被投诉单位的机构代码或名称（可选，仅诉求类型为投诉时）"},
        "case_no": {"type": "string", "maxLength": 40, "description": "投诉涉及的救助案件编号（可选）"},
    },
    "additionalProperties": True,
}
_VALIDATOR = Draft202012Validator(WORK_ORDER_SCHEMA)


@dataclass(frozen=True)
class WorkOrderState:
    """Where a work order stands, as the 12345 platform asks for it."""

    order_no: str
    case_no: str
    status: str  # received (已签收) / handling (办理中) / closed (已办结)
    status_label: str
    closed: bool
    case_status: str
    result: str | None  # the 回单 text, once the case closed
    received_at: str
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        """Return the state as a JSON-ready dict."""
        return asdict(self)


# -- validation ---------------------------------------------------------------------------


def _fields_of(error: ValidationError) -> list[str]:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        # One error per missing property, none naming it: list every missing one (deduplicated later).
        return [".".join([*path, name]) for name in error.validator_value if name not in error.instance]
    return [".".join(path) or "body"]


def _message(error: ValidationError, field: str) -> str:
    label = FIELD_LABELS.get(field, field)
    kind, value = error.validator, error.validator_value
    if kind == "required" or (kind == "pattern" and value == _FILLED):
        return f"请填写{label}"
    if kind == "pattern":
        return f"{label}只能由字母、数字、下划线和连字符组成，且不超过64位"
    if kind == "type":
        expected = value if isinstance(value, list) else [value]
        return f"{label}应为{'或'.join(_TYPE_NAMES.get(str(t), str(t)) for t in expected)}"
    if kind == "enum":
        return f"{label}应为 {'、'.join(map(str, value))} 之一"
    if kind == "maxLength":
        return f"不能超过 {value} 个字"  # the words of every channel's intake check
    return f"{label}不符合要求"


def _schema_errors(order: Any) -> dict[str, list[str]]:
    if not isinstance(order, dict):
        return {"body": ["工单应为 JSON 对象"]}
    errors: dict[str, list[str]] = {}
    for error in _VALIDATOR.iter_errors(order):
        for field in _fields_of(error):
            messages = errors.setdefault(field, [])
            if _message(error, field) not in messages:
                messages.append(_message(error, field))
    return errors


def parse_call_time(value: str) -> datetime | None:
    """Read the call time (ISO 8601, naive = Beijing time) as an aware datetime, or None."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=clock.LOCAL_TZ) if moment.tzinfo is None else moment


def _field_errors(order: dict[str, Any], now: datetime) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    phone_error = validate_phone(order["phone"])
    if phone_error:
        errors["phone"] = [phone_error]
    called = parse_call_time(order["time"])
    if called is None:
        errors["time"] = ["来电时间应为 ISO 8601 格式，如 2026-11-28T09:30:00+08:00"]
    elif called > now + CLOCK_SKEW:
        errors["time"] = ["来电时间不能晚于当前时间"]
    id_number = str(order.get("id_number") or "").strip()
    id_error = validate_id_number(id_number) if id_number else None
    if id_error:
        errors["id_number"] = [id_error]
    return errors


def work_order_errors(conn: Connection, order: Any, now: datetime) -> dict[str, list[str]]:
    """Check a pushed work order; return field → Chinese messages (empty when valid)."""
    errors = _schema_errors(order)
    if not isinstance(order, dict):
        return errors
    checked = {k: v for k, v in order.items() if k not in errors and isinstance(v, str)}
    for field, messages in _field_errors({"phone": "", "time": "", **checked}, now).items():
        if field in order and field not in errors:
            errors[field] = messages
    if not any(f == "region" or f.startswith("region.") for f in errors):
        errors.update(resolve_region(conn, order["region"], label=FIELD_LABELS["region"])[1])
    return errors


# -- registration -------------------------------------------------------------------------


def applicant_of(order: Mapping[str, Any], region: Mapping[str, str | None]) -> dict[str, Any]:
    """The applicant record of a checked work order: caller → name, content → request."""
    return {
        "name": order["caller"].strip(), "phone": order["phone"].strip(),
        "id_number": str(order.get("id_number") or "").strip(),
        "region": dict(region), "address": str(order.get("address") or "").strip(),
        "request": order["content"].strip(), "matters": [],
    }


def complaint_of(order: Mapping[str, Any]) -> dict[str, Any]:
    """The complaint of a checked work order of type 投诉: caller → name, content → text (never anonymous)."""
    return {"complaint_type": str(order.get("complaint_type") or "other"), "text": order["content"].strip(),
            "anonymous": False, "name": order["caller"].strip(), "phone": order["phone"].strip(),
            "about_org": str(order.get("about_org") or ""), "case_no": str(order.get("case_no") or "")}


def payload_of(order: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of the order beside the application: everything but the caller's personal data."""
    kept = {k: v for k, v in order.items() if k not in PERSONAL_FIELDS and k != "order_no"}
    called = parse_call_time(kept["time"]) if isinstance(kept.get("time"), str) else None
    if called is not None:
        kept["time"] = called.isoformat()
    return kept


class Hotline:
    """The 12345 interface (`CaseEngine.hotline`): work orders in, their state and 回单 out."""

    def __init__(self, engine: CaseEngine):
        self.engine = engine
        self.workflows = engine.workflows

    def receive(self, principal: Principal, order: Any) -> tuple[WorkOrderState, bool]:
        """Register a 12345 work order once; return its state and whether this call created the case.

        A known order number answers with its existing case (a changed body is logged on the case,
        never applied). Two pushes of the same new order racing each other both end on one case:
        the loser's insert hits the order number's unique key and it reads the winner's case.
        """
        scoping.require(principal, "hotline_push")
        order_no = order.get("order_no") if isinstance(order, dict) else None
        if isinstance(order_no, str) and order_no and self._known_case(order_no):
            return self._repeated(order, principal.username), False
        with self.workflows.transaction() as session:
            conn = session.connection()
            errors = work_order_errors(conn, order, clock.now())
            if errors:
                raise InvalidData("工单信息有误，请按提示修改后重新推送", errors)
            region, _ = resolve_region(conn, order["region"], label=FIELD_LABELS["region"])
        hotline_order = {"order_no": order["order_no"], "payload": payload_of(order)}
        try:
            if order["type"] == COMPLAINT_TYPE:
                self.engine.complaints.file(CHANNEL, complaint_of(order), principal.username, principal.org_code,
                                            hotline_order=hotline_order)
            else:
                self.engine.start_case(applicant_of(order, region), CHANNEL, LEVEL, False, principal.username,
                                       principal.org_code, allow_missing_id=True, hotline_order=hotline_order)
        except IntegrityError:
            if not self._known_case(order["order_no"]):
                raise
            return self._repeated(order, principal.username), False
        state = self._state(order["order_no"])
        assert state is not None
        return state, True

    def state(self, principal: Principal, order_no: str) -> WorkOrderState | None:
        """Where a work order stands, for 12345 and administrators; None when unknown or when the caller
        may not read work orders (told it does not exist, as for a case outside one's scope)."""
        return self._state(order_no) if scoping.may(principal, "hotline_read") else None

    def _known_case(self, order_no: str) -> str | None:
        with self.workflows.transaction() as session:
            found = session.connection().execute(
                select(tables.HOTLINE.c.case_no).where(tables.HOTLINE.c.order_no == order_no)).scalar()
            return str(found) if found is not None else None

    def _repeated(self, order: dict[str, Any], actor: str) -> WorkOrderState:
        order_no = order["order_no"]
        with self.workflows.transaction() as session:
            conn = session.connection()
            row = conn.execute(select(tables.HOTLINE.c.case_no, tables.HOTLINE.c.payload)
                               .where(tables.HOTLINE.c.order_no == order_no)).one()
            changed = changed_fields(conn, order, row.case_no, row.payload or {})
            if changed:
                # The first push started the case; a later, different push is evidence, not an instruction.
                store.insert_events(conn, [{
                    "case_no": row.case_no, "type": "hotline_order_repeated", "actor": actor, "at": clock.now(),
                    "task_id": None, "task_name": None, "data": {"order_no": order_no, "changed_fields": changed}}])
        state = self._state(order_no)
        assert state is not None
        return state

    def _state(self, order_no: str) -> WorkOrderState | None:
        """Where a work order stands: received, handling or closed (with the 回单 text); None if unknown."""
        hotline, instance, notice = tables.HOTLINE, tables.INSTANCE, tables.NOTICE
        event = tables.EVENT
        with self.workflows.transaction() as session:
            conn = session.connection()
            row = conn.execute(
                select(hotline.c.case_no, hotline.c.received_at, instance.c.status)
                .join(instance, instance.c.case_no == hotline.c.case_no)
                .where(hotline.c.order_no == order_no)).first()
            if row is None:
                return None
            result = conn.execute(
                select(notice.c.content).where(notice.c.case_no == row.case_no, notice.c.recipient == "hotline")
                .order_by(notice.c.id.desc()).limit(1)).scalar()
            worked = store.case_worked(conn, row.case_no)
            updated = conn.execute(select(func.max(event.c.at)).where(event.c.case_no == row.case_no)).scalar()
        closed = status.is_final(row.status)
        state = "closed" if closed else ("handling" if worked else "received")
        updated_at = clock.aware(updated) if isinstance(updated, datetime) else row.received_at
        return WorkOrderState(
            order_no=order_no, case_no=row.case_no, status=state, status_label=STATUS_LABELS[state], closed=closed,
            case_status=row.status, result=result if closed else None, received_at=row.received_at.isoformat(),
            updated_at=updated_at.isoformat())


def _registered(conn: Connection, case_no: str) -> tuple[dict[str, str], Mapping[str, Any]]:
    """The personal fields of an order as its case stored them: the application's, or a complaint's."""
    found = conn.execute(select(*(APPLICATION.c[c] for c in PERSONAL_FIELDS.values()))
                         .where(APPLICATION.c.case_no == case_no)).first()
    if found is not None:
        return PERSONAL_FIELDS, dict(found._mapping)
    return COMPLAINT_FIELDS, dict(conn.execute(select(*(COMPLAINT.c[c] for c in COMPLAINT_FIELDS.values()))
                                               .where(COMPLAINT.c.complaint_no == case_no)).one()._mapping)


def changed_fields(conn: Connection, order: Mapping[str, Any], case_no: str, payload: Mapping[str, Any]) -> list[str]:
    """Fields of a repeated order that differ from what was registered the first time."""
    fields, stored = _registered(conn, case_no)
    changed = []
    for field, column in fields.items():
        given = str(order.get(field) or "").strip()
        if field == "id_number":
            given = normalize_id_number(given)
        if given != str(stored[column] or ""):
            changed.append(field)
    fresh = payload_of(order)
    changed.extend(k for k in sorted(set(fresh) | set(payload)) if fresh.get(k) != payload.get(k))
    return changed
