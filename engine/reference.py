"""Reference data (部门、角色、救助类别) loaded from editable YAML files in the data directory, and the
matter catalog (事项清单 R-6.1.3.1), which `matters.yaml` only seeds: it lives in the database (engine.catalog)."""

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


# Field name -> (check, what the field must be); used in error messages for the county's editors.
_Checks = dict[str, tuple[Callable[[Any], bool], str]]

_NAMED: _Checks = {
    "zh": (_is_text, "非空文本"),
    "en": (_is_text, "非空文本"),
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
    # A matter's fields are checked where the catalog takes it in (engine.catalog.records), not here.
    checks: _Checks = {} if kind == "matter" else _NAMED
    records: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(raw):
        code = _check_entry(path, index, entry, checks)
        if code in records:
            raise ReferenceDataError(f"{path}: code 重复：{code}")
        records[code] = entry
    return records


class ReferenceData:
    """The reference files of one data directory (`Settings.data_dir`); each file is parsed once."""

    def __init__(self, data_dir: Path, database_url: str | None = None):
        self.data_dir = Path(data_dir)
        self.database_url = database_url

    def departments(self) -> dict[str, dict[str, Any]]:
        """Return the departments (实施部门) keyed by code; treat the result as read-only."""
        return _load_records(self.data_dir / "departments.yaml", "named")

    def roles(self) -> dict[str, dict[str, Any]]:
        """Return the user roles keyed by code; treat the result as read-only."""
        return _load_records(self.data_dir / "roles.yaml", "named")

    def assistance_types(self) -> dict[str, dict[str, Any]]:
        """Return the assistance types (救助类别) keyed by code; treat the result as read-only."""
        return _load_records(self.data_dir / "assistance_types.yaml", "named")

    def rating_levels(self) -> dict[str, dict[str, Any]]:
        """Return the 好差评 levels (R-6.3.6) keyed by code, best first; `satisfied` counts toward 满意率,
        `poor` (差评) starts the rectification process. Treat the result as read-only."""
        return _load_records(self.data_dir / "rating_levels.yaml", "named")

    def rating_tags(self) -> dict[str, dict[str, Any]]:
        """Return the 好差评 indicator tags keyed by code, each with the channels that offer it."""
        return _load_records(self.data_dir / "rating_tags.yaml", "named")

    def rating_level_name(self, code: Any) -> str:
        """The Chinese name of a 好差评 level (the code itself when unknown)."""
        return str(self.rating_levels().get(str(code), {}).get("zh", code))

    def rating_tag_names(self, codes: Any) -> list[str]:
        """The Chinese names of 好差评 tags (unknown codes stay as they are)."""
        tags = self.rating_tags()
        return [str(tags.get(str(c), {}).get("zh", c)) for c in codes or []]

    def complaint_types(self) -> dict[str, dict[str, Any]]:
        """Return the complaint types (投诉类型, R-6.3.6) keyed by code, in the file's order."""
        return _load_records(self.data_dir / "complaint_types.yaml", "named")

    def complaint_type_name(self, code: str) -> str:
        """The Chinese name of a complaint type (the code itself when the file no longer has it)."""
        return str(self.complaint_types().get(code, {}).get("zh", code))

    def seed_matters(self) -> list[dict[str, Any]]:
        """The matter catalog as the data directory's `matters.yaml` starts it (read once, at set-up)."""
        return list(_load_records(self.data_dir / "matters.yaml", "matter").values())

    def matters(self) -> dict[str, dict[str, Any]]:
        """Return the matter catalog (事项清单) keyed by code, as the database holds it now, in the
        catalog's order (disabled matters included: old cases still name them); treat it as read-only."""
        if self.database_url is None:
            raise ReferenceDataError("事项清单保存在数据库中：此处未配置数据库")
        from engine.catalog.reading import current_matters  # the database layer only where it is needed

        return current_matters(self.database_url)

    def selectable_matters(self) -> dict[str, dict[str, Any]]:
        """The matters a new application, triage or consultation may name: all but the disabled (停用)."""
        return {code: m for code, m in self.matters().items() if m["status"] != "disabled"}

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
        """Codes of `matters` that the catalog lacks or has disabled (a non-list counts as one unknown entry)."""
        if not isinstance(matters, list):
            return ["?"]
        known = self.selectable_matters()
        return [str(m) for m in matters if m not in known]

    def matter_errors(self, matters: Any) -> dict[str, list[str]]:
        """{"matters": [message]} when `matters` names codes new input may not name, else {}."""
        unknown = self.unknown_matters(matters)
        return {"matters": [f"事项清单中没有或已停用：{'、'.join(unknown)}"]} if unknown else {}


def clear_cache() -> None:
    """Forget loaded files so edited YAML is read again."""
    _read_yaml.cache_clear()
    _load_records.cache_clear()
