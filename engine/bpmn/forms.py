"""User-task forms: JSON Schema files in the forms directory (`Settings.forms_dir`), validated with
Chinese error messages. A user task's `camunda:formKey` names the file."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

FORM_ERROR_KEY = "_form"
# The generic completion form's field holding the way on (engine.bpmn.usertasks.GENERIC_FORM).
CHOICE_FIELD = "choice"

# Form keys come from BPMN and URLs; restricting them keeps a key from naming a path outside FORMS_DIR.
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_NOT_BLANK = r"\S"

_TYPE_NAMES = {
    "string": "文本",
    "number": "数字",
    "integer": "整数",
    "boolean": "是/否",
    "array": "列表",
    "object": "对象",
    "null": "空值",
}

_FORMAT_MESSAGES = {
    "date": "日期格式不正确，应为 YYYY-MM-DD",
    "date-time": "日期时间格式不正确",
    "time": "时间格式不正确",
    "email": "电子邮箱格式不正确",
}


# The widget of a material review field (材料审查, R-6.1.3.2): a verdict per material of the case's matters
REVIEW_WIDGET = "material_review"


class UnknownFormError(LookupError):
    """No form schema exists for the requested key."""


class FormSchemaError(ValueError):
    """A form schema file is not valid JSON or not a valid JSON Schema."""


@lru_cache(maxsize=32)
def _validator(path: Path) -> Draft202012Validator:
    """Read, check against the metaschema and compile one schema file."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormSchemaError(f"{path}: JSON 格式错误：{exc}") from exc
    # `true`/`false` are valid JSON Schemas but describe no fields, so they cannot be a form.
    if not isinstance(schema, dict):
        raise FormSchemaError(f"{path}: 表单 schema 顶层应为 JSON 对象")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise FormSchemaError(f"{path}: 不是有效的 JSON Schema：{exc.message}") from exc
    return Draft202012Validator(schema, format_checker=FormatChecker())


def compiled_schema(path: Path) -> Draft202012Validator:
    """The checked, compiled validator of the JSON Schema file at `path` (read once); FormSchemaError if bad."""
    return _validator(path)


def _enum_labels(schema: Mapping[str, Any], values: list[Any]) -> str:
    labels: Mapping[str, str] = schema.get("x-enum-labels", {})
    return "、".join(labels.get(value, value) if isinstance(value, str) else str(value) for value in values)


def _type_message(expected: str | list[str]) -> str:
    kinds = expected if isinstance(expected, list) else [expected]
    return "类型不正确，应为" + "或".join(_TYPE_NAMES.get(kind, kind) for kind in kinds)


def error_message(error: ValidationError) -> str:
    """Translate one jsonschema error (other than required/additionalProperties) into Chinese."""
    kind, value, schema = error.validator, error.validator_value, error.schema
    assert isinstance(schema, Mapping)  # boolean schemas never produce keyword errors
    if kind == "enum":
        return "取值无效，应为：" + _enum_labels(schema, value)
    if kind == "const":
        return "取值无效，应为：" + _enum_labels(schema, [value])
    if kind == "type":
        return _type_message(value)
    if (kind == "minLength" and value == 1) or (kind == "pattern" and value == _NOT_BLANK):
        return "不能为空"
    messages = {
        "minItems": f"至少选择 {value} 项",
        "maxItems": f"最多选择 {value} 项",
        "uniqueItems": "不能重复选择",
        "minLength": f"长度不能少于 {value} 个字符",
        "maxLength": f"长度不能超过 {value} 个字符",
        "minimum": f"不能小于 {value}",
        "maximum": f"不能大于 {value}",
        "exclusiveMinimum": f"必须大于 {value}",
        "exclusiveMaximum": f"必须小于 {value}",
        "pattern": "格式不正确",
        "format": _FORMAT_MESSAGES.get(str(value), "格式不正确"),
    }
    return messages.get(str(kind), "填写内容不符合要求")


def add_error(errors: dict[str, list[str]], field: str, message: str) -> None:
    """File `message` under `field` once (one message per field is enough: "" fails both minLength and
    pattern with the same text)."""
    messages = errors.setdefault(field, [])
    if message not in messages:
        messages.append(message)


def _collect(errors: dict[str, list[str]], error: ValidationError) -> None:
    """File one validation error under the top-level field it concerns."""
    path = list(error.absolute_path)
    instance, schema = error.instance, error.schema
    if path:
        # Errors inside a field (an array item, say) are shown next to that field.
        field = str(path[0])
    elif error.validator == "required" and isinstance(instance, Mapping):
        # The error sits on the parent object; a form shows it beside the missing input.
        for name in error.validator_value:
            if name not in instance:
                add_error(errors, name, "此项为必填项")
        return
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        allowed = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
        for name in instance:
            if name not in allowed:
                add_error(errors, str(name), f"不允许的字段：{name}")
        return
    else:
        field = FORM_ERROR_KEY
    add_error(errors, field, error_message(error))


class FormLibrary:
    """The form schemas of one directory; each file is read and compiled once."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def known_keys(self) -> set[str]:
        """Return the keys of all form schemas present in the directory."""
        return {path.stem for path in self.directory.glob("*.json") if _KEY_RE.match(path.stem)}

    def _validator(self, key: str) -> Draft202012Validator:
        path = self.directory / f"{key}.json"
        if not _KEY_RE.match(key) or not path.is_file():
            raise UnknownFormError(f"未知的表单：{key!r}（{self.directory} 中没有 {key}.json）")
        return _validator(path)

    def load_schema(self, key: str) -> dict[str, Any]:
        """Return a copy of the JSON Schema for form `key`."""
        return copy.deepcopy(dict(self._validator(key).schema))

    def schema_or_none(self, key: str) -> dict[str, Any] | None:
        """The schema of `key`, or None when it is missing or broken (callers say so to the user)."""
        try:
            return self.load_schema(key)
        except (UnknownFormError, FormSchemaError):
            return None

    def validate(self, key: str, data: Any, choices: list[str] | None = None) -> dict[str, list[str]]:
        """Validate submitted form data; return field -> Chinese messages, empty when valid. `choices` are a
        generic-form task's ways on (the flows of the gateway after it): then `choice` must be one of them."""
        errors: dict[str, list[str]] = {}
        for error in self._validator(key).iter_errors(data):
            _collect(errors, error)
        if choices and isinstance(data, Mapping) and data.get(CHOICE_FIELD) not in choices:
            add_error(errors, CHOICE_FIELD, "请选择办理结果：" + "、".join(choices))
        return errors

    def task_schema(self, key: str, choices: list[str] | None = None) -> dict[str, Any] | None:
        """The schema a task's page draws: the form's, with a generic task's choices as a required list."""
        schema = self.schema_or_none(key)
        if schema is None or not choices or CHOICE_FIELD not in schema.get("properties", {}):
            return schema
        schema["properties"][CHOICE_FIELD].update({"enum": list(choices)})
        schema["required"] = [*schema.get("required", []), CHOICE_FIELD]
        return schema

    def apply_defaults(self, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Return a copy of `data` with the schema's top-level defaults filled in for absent fields."""
        filled = copy.deepcopy(dict(data))
        properties = self._validator(key).schema.get("properties", {})
        for name, spec in properties.items():
            if name not in filled and isinstance(spec, Mapping) and "default" in spec:
                filled[name] = copy.deepcopy(spec["default"])
        return filled

    def field_spec(self, key: str, field: str) -> dict[str, Any]:
        """The schema of one field of form `key` ({} when the form or field is unknown)."""
        spec = (self.schema_or_none(key) or {}).get("properties", {}).get(field, {})
        return dict(spec) if isinstance(spec, Mapping) else {}

    def field_title(self, key: str, field: str) -> str:
        """The title of a field of form `key` (the field name when unknown)."""
        return str(self.field_spec(key, field).get("title", field))

    def enum_label(self, key: str, field: str, value: Any) -> str:
        """The label of one enum value of a field (`x-enum-labels`, of its items for a list), else the value."""
        spec = self.field_spec(key, field)
        labels = spec.get("x-enum-labels") or spec.get("items", {}).get("x-enum-labels", {})
        return str(labels.get(value, value)) if isinstance(value, str) else str(value)

    def catalog_of(self, key: str, field: str) -> str | None:
        """The reference list a field's values come from (`x-options`: departments, matters), if any."""
        spec = self.field_spec(key, field)
        found = spec.get("x-options") or spec.get("items", {}).get("x-options")
        return str(found) if found else None

    def review_field(self, key: str) -> str | None:
        """The field of form `key` holding its 材料审查 (`"x-widget": "material_review"`), if it has one."""
        properties = (self.schema_or_none(key) or {}).get("properties", {})
        return next((name for name, spec in properties.items()
                     if isinstance(spec, Mapping) and spec.get("x-widget") == REVIEW_WIDGET), None)
