"""Sample cases for trial runs (试运行样例), kept as YAML next to the process in `processes/samples/`.

A file holds the samples of one process key (`processes/samples/<key>.yaml`); each sample names
its initial case data, the values it submits on each user task, and the end event and elements
it expects. Files are checked against `SAMPLE_FILE_SCHEMA` with jsonschema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SAMPLES_DIR = Path(__file__).resolve().parents[3] / "processes" / "samples"
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

_VALUES = {"type": "object", "description": "表单数据：字段名 → 值"}
_IDS = {"type": "array", "items": {"type": "string", "minLength": 1}}

SAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "data", "decisions", "expect"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "data": {"type": "object", "description": "流程初始数据，与 CaseEngine._initial_data 相同"},
        "decisions": {
            "type": "object",
            "description": ("用户任务 id → 表单数据；多实例内的任务可按部门给出 {by_department: {部门代码: 表单数据}}；"
                            "流程多次经过的任务可给出列表，依次使用（用完后重复最后一项）"),
            "additionalProperties": {
                "oneOf": [
                    {"type": "object", "required": ["by_department"], "additionalProperties": False,
                     "properties": {"by_department": {"type": "object", "minProperties": 1,
                                                      "additionalProperties": _VALUES}}},
                    {**_VALUES, "not": {"required": ["by_department"]}},
                    {"type": "array", "minItems": 1, "items": _VALUES},
                ],
            },
        },
        "messages": {
            "type": "object",
            "description": ("等待消息的环节 id（接收任务、消息事件）→ 送达的消息内容（其键成为流程数据），如补正材料；"
                            "多次等待时可给出列表，依次使用，null 表示这一次不送达（可让定时器触发）"),
            "additionalProperties": {"oneOf": [_VALUES, {"type": "array", "minItems": 1,
                                                         "items": {"oneOf": [_VALUES, {"type": "null"}]}}]},
        },
        "fire_timers": {"type": "boolean", "description": "为 true 时，定时器一经设置即触发（视为办理超期）"},
        "expect": {
            "type": "object",
            "required": ["end"],
            "additionalProperties": False,
            "properties": {"end": {"type": "string", "minLength": 1}, "visits": _IDS, "not_visits": _IDS},
        },
    },
}

SAMPLE_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["samples"],
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "samples": {"type": "array", "minItems": 1, "items": SAMPLE_SCHEMA},
    },
}


class SampleFileError(ValueError):
    """A sample file is missing, not YAML, or does not match the sample schema."""


def has_samples(key: str, directory: Path | None = None) -> bool:
    """True when process `key` has a sample file (a new process may have none yet)."""
    return bool(_KEY_RE.match(key)) and ((directory or SAMPLES_DIR) / f"{key}.yaml").is_file()


def load_samples(key: str, directory: Path | None = None) -> list[dict[str, Any]]:
    """Read and check the samples of process `key` from `<directory>/<key>.yaml`."""
    if not _KEY_RE.match(key):
        raise SampleFileError(f"流程标识 {key!r} 不合法")
    path = (directory or SAMPLES_DIR) / f"{key}.yaml"
    if not path.is_file():
        raise SampleFileError(f"没有流程 {key} 的试运行样例文件（{path.name}）")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise SampleFileError(f"样例文件 {path.name} 不是合法的 YAML：{err}") from err
    return check_samples(content, path.name)


def check_samples(content: Any, source: str = "样例") -> list[dict[str, Any]]:
    """Return the samples of a parsed sample file, or raise SampleFileError saying what is wrong."""
    errors = sorted(Draft202012Validator(SAMPLE_FILE_SCHEMA).iter_errors(content), key=lambda e: list(e.path))
    if errors:
        raise SampleFileError(f"样例文件 {source} 不合法：" + "；".join(_describe(e) for e in errors[:5]))
    samples: list[dict[str, Any]] = content["samples"]
    names = [s["name"] for s in samples]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SampleFileError(f"样例文件 {source} 不合法：样例名称重复：{'、'.join(duplicates)}")
    return samples


def _describe(error: ValidationError) -> str:
    where = _location(list(error.absolute_path))
    kind, value = error.validator, error.validator_value
    if kind == "required":
        missing = [n for n in value if isinstance(error.instance, dict) and n not in error.instance]
        return f"{where}缺少必填项 {'、'.join(missing)}"
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        return f"{where}有不允许的字段 {'、'.join(str(k) for k in error.instance if k not in allowed)}"
    if kind == "type":
        return f"{where}类型不正确，应为 {value}"
    if kind in ("minItems", "minLength", "minProperties"):
        return f"{where}不能为空"
    if kind == "oneOf":
        return f"{where}应为表单数据，或只含 by_department 的按部门表单数据"
    return f"{where}{error.message}"


def _location(path: list[Any]) -> str:
    if not path:
        return ""
    parts = []
    for index, step in enumerate(path):
        if index == 1 and path[0] == "samples" and isinstance(step, int):
            parts.append(f"第 {step + 1} 个样例")
        elif step != "samples" or index:
            parts.append(str(step))
    return " → ".join(parts) + " "
