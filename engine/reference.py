"""Reference data (部门、角色、事项清单 R-6.1.3.1) loaded from editable YAML files in the data directory."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class ReferenceDataError(ValueError):
    """A reference data file is missing or malformed."""


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_text(item) for item in value)


def _is_workdays(value: Any) -> bool:
    # bool is an int subclass; `true` in YAML must not pass as 1 working day.
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


# Field name -> (check, what the field must be); used in error messages for the county's editors.
_Checks = dict[str, tuple[Callable[[Any], bool], str]]

_NAMED: _Checks = {
    "zh": (_is_text, "非空文本"),
    "en": (_is_text, "非空文本"),
}

_MATTER: _Checks = {
    "name": (_is_text, "非空文本"),
    "department": (_is_text, "部门代码"),
    "recipients": (_is_text, "非空文本"),
    "procedure": (_is_text, "非空文本"),
    "content": (_is_text, "非空文本"),
    "materials": (_is_text_list, "文本列表"),
    "basis": (_is_text, "非空文本"),
    "due_workdays": (_is_workdays, "非负整数或 null"),
}


@lru_cache(maxsize=32)
def _read_yaml(path: Path) -> Any:
    """Parse one YAML file once per path."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceDataError(f"{path}: 无法读取参考数据文件（{exc.strerror}）") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReferenceDataError(f"{path}: YAML 格式错误：{exc}") from exc


def _check_entry(path: Path, index: int, entry: Any, checks: _Checks) -> str:
    """Check one list entry against `checks` and return its code."""
    where = f"{path}: 第 {index + 1} 条"
    if not isinstance(entry, dict):
        raise ReferenceDataError(f"{where} 应为键值映射")
    code = entry.get("code")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise ReferenceDataError(f"{where} 的 code 无效：{code!r}（应为小写字母开头的 ASCII 代码）")
    for field, (check, expected) in checks.items():
        if field not in entry:
            raise ReferenceDataError(f"{where}（{code}）缺少字段 {field}")
        if not check(entry[field]):
            raise ReferenceDataError(f"{where}（{code}）的 {field} 应为{expected}：{entry[field]!r}")
    return code


@lru_cache(maxsize=32)
def _load_records(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Load a YAML list of coded entries into a dict keyed by code."""
    raw = _read_yaml(path)
    if not isinstance(raw, list):
        raise ReferenceDataError(f"{path}: 顶层应为列表，每条含 code 字段")
    checks = _MATTER if kind == "matter" else _NAMED
    records: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(raw):
        code = _check_entry(path, index, entry, checks)
        if code in records:
            raise ReferenceDataError(f"{path}: code 重复：{code}")
        records[code] = entry
    return records


class ReferenceData:
    """The reference files of one data directory (`Settings.data_dir`); each file is parsed once."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    def departments(self) -> dict[str, dict[str, Any]]:
        """Return the departments (实施部门) keyed by code; treat the result as read-only."""
        return _load_records(self.data_dir / "departments.yaml", "named")

    def roles(self) -> dict[str, dict[str, Any]]:
        """Return the user roles keyed by code; treat the result as read-only."""
        return _load_records(self.data_dir / "roles.yaml", "named")

    def matters(self) -> dict[str, dict[str, Any]]:
        """Return the matter catalog (事项清单) keyed by code; treat the result as read-only."""
        path = self.data_dir / "matters.yaml"
        records = _load_records(path, "matter")
        known = self.departments()
        # A matter pointing at a department that does not exist could never be dispatched.
        for code, matter in records.items():
            department = matter["department"]
            if department not in known:
                raise ReferenceDataError(f"{path}: 事项 {code} 的 department 不是已知部门代码：{department}")
        return records

    def department_name(self, code: str | None) -> str:
        """The Chinese name of a department code (the code itself when unknown; '' for none)."""
        if not code:
            return ""
        return str(self.departments().get(code, {}).get("zh", code))

    def department_names(self, codes: Any) -> str:
        """Department names joined with 、 (codes that are unknown stay as they are)."""
        return "、".join(self.department_name(str(c)) for c in (codes or []))

    def role_name(self, code: str) -> str:
        """The Chinese name of a role code (the code itself when unknown)."""
        return str(self.roles().get(code, {}).get("zh", code))

    def matter_name(self, code: str) -> str:
        """The name of a matter of the catalog (the code itself when unknown)."""
        return str(self.matters().get(code, {}).get("name", code))

    def unknown_matters(self, matters: Any) -> list[str]:
        """Codes of `matters` that the catalog lacks (a non-list counts as one unknown entry)."""
        if not isinstance(matters, list):
            return ["?"]
        known = self.matters()
        return [str(m) for m in matters if m not in known]


def clear_cache() -> None:
    """Forget loaded files so edited YAML is read again."""
    _read_yaml.cache_clear()
    _load_records.cache_clear()
