"""One matter record of the catalog (事项清单 R-6.1.3.1, 审查标准 R-6.1.3.2): its fields, their labels,
the one validity check (the JSON Schema `matter.schema.json` plus the codes it must name), and the
normal form every source (the seed YAML, an import, the administrator's form) is brought to.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.bpmn.forms import add_error, compiled_schema, error_message
from engine.i18n import _l

if TYPE_CHECKING:
    from engine.reference import ReferenceData

SCHEMA = Path(__file__).with_name("matter.schema.json")
DEFAULT_PROCESS = "relief_linkage"
FORM_ERROR_KEY = "_form"

# The record's fields in the catalog's order: the standard's seven, then what the platform needs.
FIELDS: dict[str, str] = {
    "code": _l("事项代码"), "name": _l("事项名称"), "department": _l("实施部门"),
    "assistance_type": _l("救助类别"), "recipients": _l("救助对象"), "procedure": _l("办理程序"),
    "content": _l("救助内容"), "materials": _l("所需材料"), "basis": _l("政策依据"),
    "process_key": _l("启动的流程"), "due_workdays": _l("办理时限（工作日）"), "place": _l("办理窗口/地点"),
    "noticed": _l("批准后救助公示"), "retention": _l("保管期限"), "status": _l("状态"),
}
MATERIAL_FIELDS: dict[str, str] = {
    "name": _l("材料名称"), "form": _l("审查形式"), "required": _l("必须提交"), "points": _l("审查要点"),
    "problems": _l("常见问题"), "wrong_example": _l("错误示例"), "example_image": _l("错误示例图片"),
    "field_work": _l("实地核查"),
}
STATUSES: dict[str, str] = {"active": _l("在用"), "disabled": _l("停用"), "unconfirmed": _l("待县确认")}
FORMS: dict[str, str] = {"original": _l("原件核验"), "copy": _l("复印件"), "electronic": _l("电子证照"),
                         "pledge": _l("告知承诺")}
# What each review form asks of an applicant, in plain words (the portal's 服务指南).
FORM_HINTS: dict[str, str] = {"original": _l("请带上原件，由工作人员核对"), "copy": _l("请提交复印件"),
                              "electronic": _l("可用电子证照，由工作人员在线调取，无需提交纸质材料"),
                              "pledge": _l("签署书面承诺即可，无需另行提交证明")}
FIELD_WORK: dict[str, str] = {"none": _l("无需实地核查"), "township": _l("乡镇(街道)实地核查"),
                              "village": _l("村(社区)实地核查")}
# 保管期限 of a closed case's electronic archive (电子化归档, R-6.1.2.2), shortest first; a county sets it per matter.
RETENTIONS: dict[str, str] = {"10y": _l("10年"), "30y": _l("30年"), "permanent": _l("永久")}
DEFAULT_RETENTION = "30y"
VERDICTS: dict[str, str] = {"ok": _l("合格"), "supplement": _l("需补正"), "exempt": _l("免提交")}  # 材料审查结论
OPTIONAL_MARKS = ("（如有）", "(如有)")  # a seed material named so is not required


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else value if value is not None else ""


def _lines(value: Any) -> Any:
    """Common problems as a list: a list stays (its items trimmed), text is split into its lines."""
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        return [item.strip() if isinstance(item, str) else item for item in value]
    return [] if value is None else value


def _image(value: Any) -> Any:
    """An example image reference with its texts trimmed and its hash in lower case."""
    if not isinstance(value, Mapping):
        return value
    found = {key: _text(item) if isinstance(item, str) else item for key, item in value.items()}
    if isinstance(found.get("sha256"), str):
        found["sha256"] = found["sha256"].lower()
    return found


def normal_material(material: Any) -> Any:
    """A material in its full form; the seed's plain name becomes a copy to check, required unless
    marked （如有）; an empty example image (错误示例图片) is no image. Anything that is not text or a
    mapping is left for the check to refuse."""
    if isinstance(material, str):
        name = material.strip()
        return {"name": name, "form": "copy", "required": not name.endswith(OPTIONAL_MARKS), "points": "",
                "problems": [], "wrong_example": "", "field_work": "none"}
    if not isinstance(material, Mapping):
        return material
    found = dict(material)
    image = found.pop("example_image", None)
    return {**found, "name": _text(found.get("name")), "form": found.get("form") or "copy",
            "required": found.get("required", True), "points": _text(found.get("points")),
            "problems": _lines(found.get("problems")), "wrong_example": _text(found.get("wrong_example")),
            "field_work": found.get("field_work") or "none", **({"example_image": _image(image)} if image else {})}


def normal_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """`record` with texts trimmed, defaults filled and materials in full form (not yet checked)."""
    found = {key: _text(value) if isinstance(value, str) else value for key, value in record.items()}
    found.setdefault("process_key", DEFAULT_PROCESS)
    found.setdefault("place", "")
    found.setdefault("noticed", False)
    found.setdefault("status", "active")
    found.setdefault("retention", DEFAULT_RETENTION)
    found.setdefault("due_workdays", None)
    materials = found.get("materials", [])
    found["materials"] = [normal_material(m) for m in materials] if isinstance(materials, list) else materials
    found.pop("position", None)
    return found


def blank_record() -> dict[str, Any]:
    """A new matter's form before anything is typed: every field, the defaults set."""
    return normal_record({"code": "", "name": "", "department": "", "assistance_type": "", "recipients": "",
                          "procedure": "", "content": "", "materials": [], "basis": ""})


def _field_of(path: list[Any]) -> str:
    # materials.2.name: the third material's name, shown beside that row of the form
    return ".".join(str(part) for part in path[:3]) if path else FORM_ERROR_KEY


def record_errors(record: Mapping[str, Any], reference: ReferenceData) -> dict[str, list[str]]:
    """Check a normal record: field (materials.N.field for a material's) → Chinese messages; {} when valid."""
    errors: dict[str, list[str]] = {}
    for error in compiled_schema(SCHEMA).iter_errors(dict(record)):
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, Mapping):
            for name in error.validator_value:
                if name not in error.instance:
                    add_error(errors, _field_of([*path, name]), "此项为必填项")
        elif error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            allowed = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
            for name in error.instance:
                if name not in allowed:
                    add_error(errors, _field_of([*path, name]), f"不允许的字段：{name}")
        else:
            add_error(errors, _field_of(path), error_message(error))
    department = record.get("department")
    if isinstance(department, str) and department and department not in reference.departments():
        add_error(errors, "department", f"不是已知的部门代码：{department}")
    kind = record.get("assistance_type")
    if isinstance(kind, str) and kind and kind not in reference.assistance_types():
        add_error(errors, "assistance_type", f"不是已知的救助类别：{kind}")
    materials = record.get("materials")
    if isinstance(materials, list):
        names = [m.get("name") for m in materials if isinstance(m, Mapping)]
        for index, name in enumerate(names):
            if name and names.index(name) != index:
                add_error(errors, f"materials.{index}.name", f"材料重复：{name}")
    return errors


def label_of(choices: Mapping[str, str], value: Any) -> str:
    """The label of a coded value (the value itself when unknown)."""
    return choices.get(value, str(value)) if isinstance(value, str) else str(value)
