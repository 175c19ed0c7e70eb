"""Tests for the user-task form schemas in forms/ and their Chinese validation messages."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from engine.bpmn.forms import FormLibrary, FormSchemaError, UnknownFormError
from engine.settings import Settings
from tests.support.db import suite_settings

FORM_KEYS = {
    "generic",
    "situation",
    "triage",
    "objection_review",
    "supplement_overdue",
    "joint_plan",
    "joint_conference",
    "dept_accept",
    "field_report",
    "dept_result",
    "summary",
    "supervision",
    "feedback_callback",
    "feedback_verify",
    "feedback_rectify",
    "feedback_unfounded",
    "complaint_handle",
    "complaint_callback",
}

HAN = re.compile(r"[\u4e00-\u9fff]")

VALID = [
    ("complaint_handle", {"finding": "partly_founded", "handling": "约谈", "reply": "已整改"}),
    ("complaint_callback", {"satisfaction": "unreachable", "callback_note": "三次未接通", "decision": "close"}),
    ("triage", {"decision": "eligible", "departments": ["minzheng"], "matters": ["dibao"]}),
    ("triage", {"decision": "ineligible", "reason": "家庭收入高于低保标准", "note": "已电话告知"}),
    ("triage", {"decision": "unclear"}),
    ("joint_plan", {"departments": ["minzheng", "yibao"], "plan": "民政局核定低保，医保局落实医疗救助"}),
    ("joint_conference", {"resolution": "assign", "departments": ["canlian"], "plan": "由残联牵头办理"}),
    ("joint_conference", {"resolution": "decline", "reason": "无对应救助政策"}),
    (
        "dept_accept",
        {"materials": ["身份证", "户口簿"], "location": "县民政局一楼窗口", "field_work": "village"},
    ),
    ("field_report", {"result": "已入户核实", "visited_at": "2024-03-01", "note": "户主在家"}),
    ("dept_result", {"outcome": "approved", "content": "纳入低保", "amount": 850.5}),
    ("dept_result", {"outcome": "denied", "content": "收入超标", "amount": None}),
    ("dept_result", {"outcome": "referred", "content": "转介红十字会"}),
    ("summary", {"summary": "已纳入低保并落实医疗救助"}),
    ("supervision", {"note": "请于两个工作日内办结"}),
]

DEPT_LABELS = "民政局、医保局、教育局、残联、住建局、人社局、红十字会、总工会、司法局、应急管理局"

INVALID = [
    # Plain required fields: the message sits on the missing field, not on the form.
    ("triage", {}, "decision", "此项为必填项"),
    ("joint_plan", {"departments": ["minzheng", "yibao"]}, "plan", "此项为必填项"),
    ("dept_accept", {"materials": ["身份证"], "field_work": "none"}, "location", "此项为必填项"),
    ("field_report", {}, "result", "此项为必填项"),
    ("dept_result", {"content": "纳入低保"}, "outcome", "此项为必填项"),
    ("summary", {}, "summary", "此项为必填项"),
    ("supervision", {}, "note", "此项为必填项"),
    # Conditional requirements (if/then).
    ("triage", {"decision": "eligible"}, "departments", "此项为必填项"),
    ("triage", {"decision": "ineligible"}, "reason", "此项为必填项"),
    ("joint_conference", {"resolution": "assign", "departments": ["minzheng"]}, "plan", "此项为必填项"),
    ("joint_conference", {"resolution": "assign", "plan": "由民政局办理"}, "departments", "此项为必填项"),
    ("joint_conference", {"resolution": "decline"}, "reason", "此项为必填项"),
    # Enums name the Chinese labels.
    (
        "triage",
        {"decision": "maybe"},
        "decision",
        "取值无效，应为：不符合救助条件、符合救助条件、实施主体不明确，提交联席会议",
    ),
    (
        "triage",
        {"decision": "eligible", "departments": ["fayuan"]},
        "departments",
        "取值无效，应为：" + DEPT_LABELS,
    ),
    ("joint_conference", {"resolution": "ok"}, "resolution", "取值无效，应为：指定实施部门、不予救助"),
    (
        "dept_accept",
        {"materials": ["身份证"], "location": "窗口", "field_work": "county"},
        "field_work",
        "取值无效，应为：无需实地办理、乡镇(街道)实地办理、村(社区)实地办理",
    ),
    (
        "dept_result",
        {"outcome": "ok", "content": "x"},
        "outcome",
        "取值无效，应为：批准救助、不予救助、转介其他救助",
    ),
    # Array sizes and uniqueness.
    ("triage", {"decision": "eligible", "departments": []}, "departments", "至少选择 1 项"),
    ("joint_plan", {"departments": ["minzheng"], "plan": "方案"}, "departments", "至少选择 2 项"),
    ("joint_plan", {"departments": ["minzheng", "minzheng"], "plan": "方案"}, "departments", "不能重复选择"),
    (
        "dept_accept",
        {"materials": [], "location": "窗口", "field_work": "none"},
        "materials",
        "至少选择 1 项",
    ),
    # Empty or blank text.
    ("triage", {"decision": "ineligible", "reason": ""}, "reason", "不能为空"),
    ("triage", {"decision": "ineligible", "reason": "   "}, "reason", "不能为空"),
    ("joint_plan", {"departments": ["minzheng", "yibao"], "plan": ""}, "plan", "不能为空"),
    ("dept_accept", {"materials": [""], "location": "窗口", "field_work": "none"}, "materials", "不能为空"),
    ("summary", {"summary": " "}, "summary", "不能为空"),
    ("supervision", {"note": ""}, "note", "不能为空"),
    # Numbers, types and formats.
    ("dept_result", {"outcome": "approved", "content": "x", "amount": -1}, "amount", "不能小于 0"),
    (
        "dept_result",
        {"outcome": "approved", "content": "x", "amount": "800"},
        "amount",
        "类型不正确，应为数字或空值",
    ),
    (
        "dept_accept",
        {"materials": "身份证", "location": "窗口", "field_work": "none"},
        "materials",
        "类型不正确，应为列表",
    ),
    (
        "field_report",
        {"result": "x", "visited_at": "2024-02-30"},
        "visited_at",
        "日期格式不正确，应为 YYYY-MM-DD",
    ),
    (
        "field_report",
        {"result": "x", "visited_at": "2024/03/01"},
        "visited_at",
        "日期格式不正确，应为 YYYY-MM-DD",
    ),
    ("triage", {"decision": "unclear", "matters": ["低保"]}, "matters", "格式不正确"),
    # Unknown fields are reported under their own name.
    ("supervision", {"note": "请尽快办理", "urgent": True}, "urgent", "不允许的字段：urgent"),
]


@pytest.fixture
def forms_dir(tmp_path: Path) -> Path:
    """An empty forms directory."""
    return tmp_path


def library(directory: Path) -> FormLibrary:
    """The forms of `directory`, as RELIEF_FORMS_DIR would select them."""
    return Settings.from_environ({"RELIEF_FORMS_DIR": str(directory)}).forms


forms = suite_settings().forms


def _walk(schema: Any) -> list[dict[str, Any]]:
    """Return every sub-schema (dict) nested anywhere inside `schema`."""
    if isinstance(schema, dict):
        return [schema, *(sub for value in schema.values() for sub in _walk(value))]
    if isinstance(schema, list):
        return [sub for value in schema for sub in _walk(value)]
    return []


def test_known_form_keys_lists_every_form() -> None:
    """The shipped forms directory holds exactly the sixteen user-task forms (the linkage flow's, the 公示异议
    review's, the 差评整改's and the complaint's), the generic completion form and the applicant situation form."""
    assert forms.known_keys() == FORM_KEYS


@pytest.mark.parametrize("key", sorted(FORM_KEYS))
def test_schema_is_closed_and_titled_in_chinese(key: str) -> None:
    """Each schema is draft 2020-12, forbids extra fields and titles/describes every field in Chinese."""
    schema = forms.load_schema(key)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    texts = [schema["title"], schema["description"]]
    texts += [p[attr] for p in schema["properties"].values() for attr in ("title", "description")]
    assert all(HAN.search(text) for text in texts)


@pytest.mark.parametrize("key", sorted(FORM_KEYS))
def test_every_enum_value_has_a_chinese_label(key: str) -> None:
    """Every enum carries x-enum-labels with a Chinese label for each value, so pages can render it."""
    enums = [sub for sub in _walk(forms.load_schema(key)) if "enum" in sub]
    for sub in enums:
        labels = sub["x-enum-labels"]
        assert set(labels) == set(sub["enum"])
        assert all(HAN.search(label) for label in labels.values())


@pytest.mark.parametrize(("key", "data"), VALID)
def test_correct_example_is_accepted(key: str, data: dict[str, Any]) -> None:
    """A correctly filled form validates with no errors."""
    assert forms.validate(key, data) == {}


@pytest.mark.parametrize(("key", "data", "field", "message"), INVALID)
def test_wrong_input_gets_chinese_message_on_its_field(
    key: str, data: dict[str, Any], field: str, message: str
) -> None:
    """A typical mistake is refused with the expected Chinese message under the offending field."""
    errors = forms.validate(key, data)
    assert message in errors.get(field, []), errors


def test_errors_are_reported_once_per_field() -> None:
    """An empty reason fails two keywords but shows a single message, and the valid fields none."""
    errors = forms.validate("triage", {"decision": "ineligible", "reason": ""})
    assert errors == {"reason": ["不能为空"]}


def test_non_object_submission_is_a_form_level_error() -> None:
    """Data that is not an object is reported under the "_form" key."""
    assert forms.validate("summary", ["办结"]) == {"_form": ["类型不正确，应为对象"]}


def test_apply_defaults_fills_absent_fields_only() -> None:
    """apply_defaults adds the schema default for a missing amount and keeps the caller's data intact."""
    data = {"outcome": "denied", "content": "收入超标"}
    filled = forms.apply_defaults("dept_result", data)
    assert filled == {"outcome": "denied", "content": "收入超标", "amount": None, "household_size": None}
    assert "amount" not in data
    assert forms.apply_defaults("dept_result", {**data, "amount": 500})["amount"] == 500


def test_apply_defaults_result_validates() -> None:
    """A form completed by apply_defaults is still valid."""
    filled = forms.apply_defaults("dept_result", {"outcome": "approved", "content": "纳入低保"})
    assert forms.validate("dept_result", filled) == {}


@pytest.mark.parametrize("key", ["no_such_form", "../forms/triage", "Triage", ""])
def test_unknown_form_key_is_refused(key: str) -> None:
    """An unknown or path-like form key raises UnknownFormError in every entry point."""
    with pytest.raises(UnknownFormError):
        forms.load_schema(key)
    with pytest.raises(UnknownFormError):
        forms.validate(key, {})
    with pytest.raises(UnknownFormError):
        forms.apply_defaults(key, {})


def test_load_schema_returns_an_independent_copy() -> None:
    """Changing a returned schema does not change later validation."""
    forms.load_schema("summary")["required"].clear()
    assert forms.validate("summary", {}) == {"summary": ["此项为必填项"]}


def test_forms_dir_env_overrides_location(forms_dir: Path) -> None:
    """RELIEF_FORMS_DIR makes the engine read forms from another directory."""
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    (forms_dir / "check.json").write_text(json.dumps(schema), encoding="utf-8")
    assert library(forms_dir).known_keys() == {"check"}
    assert library(forms_dir).validate("check", {"ok": "yes"}) == {"ok": ["类型不正确，应为是/否"]}


def test_schema_violating_the_metaschema_is_refused(forms_dir: Path) -> None:
    """A schema file that is not a valid JSON Schema raises FormSchemaError naming the file."""
    (forms_dir / "broken.json").write_text(json.dumps({"type": "text"}), encoding="utf-8")
    with pytest.raises(FormSchemaError, match="broken.json"):
        library(forms_dir).load_schema("broken")


def test_schema_with_bad_json_is_refused(forms_dir: Path) -> None:
    """A schema file that is not JSON raises FormSchemaError naming the file."""
    (forms_dir / "garbled.json").write_text("{'type': 'object'", encoding="utf-8")
    with pytest.raises(FormSchemaError, match="garbled.json"):
        library(forms_dir).load_schema("garbled")


def test_conditions_do_not_fire_without_their_trigger() -> None:
    """A form missing the decision reports only the decision, not the fields that depend on it."""
    assert forms.validate("triage", {}) == {"decision": ["此项为必填项"]}
    assert forms.validate("joint_conference", {}) == {"resolution": ["此项为必填项"]}


def test_only_the_unknown_field_is_flagged() -> None:
    """An extra field is reported under its own name while the allowed fields stay clean."""
    errors = forms.validate("supervision", {"note": "请尽快办理", "urgent": True, "due": "明天"})
    assert errors == {"urgent": ["不允许的字段：urgent"], "due": ["不允许的字段：due"]}
