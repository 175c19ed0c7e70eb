"""The catalog as files a county reviews (`relief matter export|import FILE`): YAML as `matters.yaml`
writes it, or an XLSX workbook with a sheet of matters and a sheet of materials with their review
standards, labels in Chinese (codes are accepted too). Reading only turns a file into records; the
catalog's one check (`MatterCatalog.checked`) decides whether they are right.

An example image (错误示例图片) travels as its reference only, never its bytes: YAML keeps
`{sha256, filename, mime}`, the workbook's cell its file name and SHA-256 on two lines. Importing a
reference to an image the catalog's image store does not hold is refused by that check.

Workbooks are parsed by openpyxl through defusedxml (no entities, no DTDs).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from engine.catalog.records import FIELD_WORK, FIELDS, FORMS, MATERIAL_FIELDS, RETENTIONS, STATUSES
from engine.errors import InvalidData

MATTERS_SHEET, MATERIALS_SHEET = "事项清单", "所需材料"
MATERIAL_KEY = ("code", "事项代码")  # the materials sheet's first column: the matter a row belongs to
YES, NO = "是", "否"
MAX_FILE_BYTES = 10 * 1024 * 1024
YAML_HEADER = ("# 社会救助事项清单（R-6.1.3.1）及材料审查标准（R-6.1.3.2），由 relief matter export 导出。\n"
               "# 修改后用 relief matter import 导入：整个文件先校验，全部无误才写入，每个改动留有修订记录。\n"
               "# 错误示例图片（example_image）只是对本系统图片库中图片的引用：图片库中没有的引用不予导入。\n")
# Coded fields and their labels: written as labels, read as either.
CHOICES: dict[str, Mapping[str, str]] = {"status": STATUSES, "retention": RETENTIONS, "form": FORMS,
                                         "field_work": FIELD_WORK}
FLAGS = ("noticed", "required")
SUFFIXES = (".yaml", ".yml", ".xlsx")
IMAGE = "example_image"
OPTIONAL_COLUMNS = {IMAGE}  # a workbook from before example images has no such column
HASH = re.compile(r"\b[0-9A-Fa-f]{64}\b")


def _refuse(message: str) -> InvalidData:
    return InvalidData(message, {"file": [message]})


def kind_of(path: Path) -> str:
    """'yaml' or 'xlsx' from the file's name; InvalidData for anything else."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise _refuse(f"不支持的文件类型：{path.name}（应为 .yaml、.yml 或 .xlsx）")
    return "xlsx" if suffix == ".xlsx" else "yaml"


def dump(records: Sequence[Mapping[str, Any]], kind: str) -> bytes:
    """The records as a file of `kind`."""
    if kind == "yaml":
        return (YAML_HEADER + yaml.safe_dump([dict(r) for r in records], allow_unicode=True, sort_keys=False,
                                             width=100)).encode()
    return _workbook(records)


def load(content: bytes, kind: str) -> list[dict[str, Any]]:
    """Records from a file of `kind` (not yet checked); InvalidData when it cannot be read at all."""
    if len(content) > MAX_FILE_BYTES:
        raise _refuse(f"文件过大（超过 {MAX_FILE_BYTES // 1024 // 1024} MB）")
    return _from_yaml(content) if kind == "yaml" else _from_workbook(content)


def _from_yaml(content: bytes) -> list[dict[str, Any]]:
    try:
        found = yaml.safe_load(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _refuse("文件不是 UTF-8 编码的文本") from exc
    except yaml.YAMLError as exc:
        raise _refuse(f"YAML 格式错误：{exc}") from exc
    if not isinstance(found, list) or not all(isinstance(entry, dict) for entry in found):
        raise _refuse("YAML 顶层应为事项列表，每个事项是一组键值")
    return found


# -- XLSX ------------------------------------------------------------------------------------

def _cell(key: str, value: Any) -> Any:
    if key in CHOICES:
        return CHOICES[key].get(value, value)
    if key in FLAGS:
        return YES if value else NO
    if key == "problems":
        return "\n".join(value)
    if key == IMAGE:
        return f"{value.get('filename', '')}\n{value.get('sha256', '')}" if isinstance(value, Mapping) else None
    return value


def _workbook(records: Sequence[Mapping[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    matters = book.active
    matters.title = MATTERS_SHEET
    matter_keys = [k for k in FIELDS if k != "materials"]
    matters.append([str(FIELDS[k]) for k in matter_keys])
    materials = book.create_sheet(MATERIALS_SHEET)
    materials.append([MATERIAL_KEY[1], *(str(label) for label in MATERIAL_FIELDS.values())])
    for record in records:
        matters.append([_cell(k, record.get(k)) for k in matter_keys])
        for material in record.get("materials") or []:
            materials.append([record["code"], *(_cell(k, material.get(k)) for k in MATERIAL_FIELDS)])
    for sheet in (matters, materials):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = 24
            for cell in column[1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _headers(row: Sequence[Any], labels: Mapping[str, str], sheet: str) -> list[str | None]:
    by_label = {str(label): key for key, label in labels.items()} | {key: key for key in labels}
    keys = [by_label.get(str(h).strip()) if h is not None else None for h in row]
    missing = [str(labels[k]) for k in labels if k not in keys and k not in OPTIONAL_COLUMNS]
    if missing:
        raise _refuse(f"工作表「{sheet}」缺少列：{'、'.join(missing)}")
    return keys


def _value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
    if value in ("", None):
        return {"problems": [], "due_workdays": None}.get(key, "" if key not in FLAGS else value)
    if key in CHOICES:
        codes = {str(label): code for code, label in CHOICES[key].items()}
        return codes.get(str(value), value)
    if key in FLAGS:
        return {YES: True, NO: False}.get(value, value)
    if key == "due_workdays" and isinstance(value, float) and value.is_integer():
        return int(value)
    if key == "problems" and isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if key == IMAGE:
        return _image_cell(str(value))
    return value


def _image_cell(text: str) -> dict[str, str]:
    """An example image's cell (file name, then SHA-256) as a reference; without a hash it names none."""
    found = HASH.search(text)
    names = [line.strip() for line in text.splitlines() if line.strip() and not HASH.fullmatch(line.strip())]
    return {"sha256": found.group().lower() if found else "", "filename": names[0] if names else ""}


def _rows(sheet: Any, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise _refuse(f"工作表「{sheet.title}」是空的")
    keys = _headers(header, labels, sheet.title)
    found = []
    for row in rows:
        if all(v in (None, "") for v in row):
            continue
        values = {k: _value(k, v) for k, v in zip(keys, row, strict=False) if k is not None}
        found.append({k: v for k, v in values.items() if not (k == IMAGE and v == "")})
    return found


def _from_workbook(content: bytes) -> list[dict[str, Any]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _refuse("无法读取该 XLSX 文件（文件损坏或不是 Excel 工作簿）") from exc
    try:
        if MATTERS_SHEET not in book.sheetnames or MATERIALS_SHEET not in book.sheetnames:
            raise _refuse(f"工作簿应有「{MATTERS_SHEET}」和「{MATERIALS_SHEET}」两个工作表")
        records = _rows(book[MATTERS_SHEET], {k: v for k, v in FIELDS.items() if k != "materials"})
        materials = _rows(book[MATERIALS_SHEET], {MATERIAL_KEY[0]: MATERIAL_KEY[1], **MATERIAL_FIELDS})
    finally:
        book.close()
    by_code: dict[str, list[dict[str, Any]]] = {}
    for material in materials:
        by_code.setdefault(str(material.pop(MATERIAL_KEY[0])), []).append(material)
    known = {str(r.get("code")) for r in records}
    strays = sorted(set(by_code) - known)
    if strays:
        raise _refuse(f"「{MATERIALS_SHEET}」中的事项代码不在「{MATTERS_SHEET}」中：{'、'.join(strays)}")
    return [{**record, "materials": by_code.get(str(record.get("code")), [])} for record in records]
