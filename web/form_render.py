"""Turn a form's JSON Schema into HTML field descriptors, and a submitted form back into JSON data.

Widgets by schema type: string enum → radio buttons (≤ 4 options) or a select; array of enum →
checkboxes; array of strings → textarea, one item per line; long string (maxLength > 200) →
textarea; number → number input (empty → absent, so schema defaults apply); format date → date
input. Business rules, conditional requirements included, stay in `engine.bpmn.forms.FormLibrary.validate`;
reading submitted data back (`CaseFiles.rows`) is the engine's too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine.bpmn.forms import REVIEW_WIDGET
from engine.reference import ReferenceData

RADIO_MAX_OPTIONS = 4
LONG_TEXT = 200

Values = dict[str, str | list[str] | list[dict[str, str]]]


@dataclass
class Field:
    """One form field as the template draws it."""

    name: str
    label: str
    description: str
    widget: str  # radio | select | checkboxes | lines | textarea | text | number | date | boolean
    required: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    maxlength: int | None = None
    step: str | None = None
    value: str | list[str] | list[dict[str, str]] = ""
    errors: list[str] = field(default_factory=list)

    def selected(self, option: str) -> bool:
        """True when `option` is the chosen value (or one of them)."""
        return option in self.value if isinstance(self.value, list) else option == self.value


# Option lists a schema may name with "x-options" instead of a fixed enum: editable reference data.
CATALOGS = ("matters", "departments")
# 材料审查 (engine.bpmn.forms.REVIEW_WIDGET): a verdict per material, drawn beside its review standard
REVIEW_FIELDS = ("matter", "material", "verdict", "problem", "reason")
MAX_REVIEW_ROWS = 100


def _types(spec: Mapping[str, Any]) -> list[str]:
    kind = spec.get("type", "string")
    kinds = kind if isinstance(kind, list) else [kind]
    return [k for k in kinds if k != "null"] or ["string"]


def widget_of(spec: Mapping[str, Any]) -> str:
    """The widget for one property schema."""
    kind = _types(spec)[0]
    if spec.get("x-widget") == REVIEW_WIDGET:
        return REVIEW_WIDGET
    if kind == "array":
        items = spec.get("items", {})
        return "checkboxes" if "enum" in items or items.get("x-options") in CATALOGS else "lines"
    if kind in ("number", "integer"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if "enum" in spec:
        return "radio" if len(spec["enum"]) <= RADIO_MAX_OPTIONS else "select"
    if spec.get("format") == "date":
        return "date"
    return "textarea" if spec.get("maxLength", 0) > LONG_TEXT else "text"


def option_labels(spec: Mapping[str, Any], reference: ReferenceData, chosen: Any = ()) -> list[tuple[str, str]]:
    """(value, label) pairs of an enum: department names for department codes, else x-enum-labels. Of the
    matter catalog the matters new input may name, and a disabled one only where it was `chosen` already."""
    catalog = spec.get("x-options", "")
    if catalog in CATALOGS:
        kept = set(chosen) if isinstance(chosen, list | tuple | set) else {chosen}
        entries = ({c: m for c, m in reference.matters().items() if m["status"] != "disabled" or c in kept}
                   if catalog == "matters" else reference.departments())
        return [(code, str(entry.get("name") or entry.get("zh") or code)) for code, entry in entries.items()]
    values = [str(v) for v in spec.get("enum", [])]
    departments = reference.departments()
    if values and all(v in departments for v in values):
        return [(v, str(departments[v]["zh"])) for v in values]
    labels: Mapping[str, str] = spec.get("x-enum-labels", {})
    return [(v, str(labels.get(v, v))) for v in values]


def _choice_spec(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return spec.get("items", {}) if _types(spec)[0] == "array" else spec


def _properties(schema: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(name, spec) for name, spec in schema.get("properties", {}).items() if isinstance(spec, Mapping)]


def build_fields(schema: Mapping[str, Any], reference: ReferenceData, values: Values | None = None,
                 errors: Mapping[str, list[str]] | None = None) -> list[Field]:
    """Field descriptors of a form, filled with `values` and each field's `errors`."""
    values, errors = values or {}, errors or {}
    required = set(schema.get("required", []))
    fields = []
    for name, spec in _properties(schema):
        widget = widget_of(spec)
        empty: str | list[str] = [] if widget == "checkboxes" else ""
        fields.append(Field(
            name=name, label=str(spec.get("title", name)), description=str(spec.get("description", "")),
            widget=widget, required=name in required,
            options=(option_labels(_choice_spec(spec), reference, values.get(name, empty))
                     if widget in ("radio", "select", "checkboxes") else []),
            maxlength=spec.get("maxLength"),
            step=("1" if _types(spec)[0] == "integer" else "0.01") if widget == "number" else None,
            value=values.get(name, empty), errors=list(errors.get(name, []))))
    return fields


def _display_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def values_from_data(schema: Mapping[str, Any], data: Mapping[str, Any]) -> Values:
    """The form's input values for stored data (to show a completed task, or prefill)."""
    values: Values = {}
    for name, spec in _properties(schema):
        if name not in data or data[name] is None:
            continue
        value, widget = data[name], widget_of(spec)
        if widget == REVIEW_WIDGET:
            values[name] = [dict(v) for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
        elif widget == "checkboxes":
            values[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        elif widget == "lines":
            values[name] = "\n".join(map(str, value)) if isinstance(value, list) else str(value)
        elif widget == "boolean":
            values[name] = "true" if value else ""
        elif widget == "number":
            values[name] = _display_number(value)
        else:
            values[name] = str(value)
    return values


def values_from_form(schema: Mapping[str, Any], form: MultiDict[str, str]) -> Values:
    """Exactly what the user typed, per field, to redraw the form after an error."""
    values: Values = {}
    for name, spec in _properties(schema):
        if widget_of(spec) == REVIEW_WIDGET:
            values[name] = review_from_form(name, form)
        elif widget_of(spec) == "checkboxes":
            values[name] = form.getlist(name)
        elif name in form:
            values[name] = form.get(name, "")
    return values


def _number(raw: str, integer: bool) -> tuple[int | float | None, str | None]:
    try:
        number = float(raw)
    except ValueError:
        return None, _("请输入数字")
    if not math.isfinite(number):
        return None, _("请输入数字")
    if integer:
        return (int(number), None) if number.is_integer() else (None, _("请输入整数"))
    return (int(number) if number.is_integer() and "." not in raw else number), None


def review_from_form(name: str, form: MultiDict[str, str]) -> list[dict[str, str]]:
    """The material verdicts of a review widget: one row per material given a verdict (rows left without
    one are not reviewed); a verdict keeps only its own explanation (需补正 the problem, 免提交 the reason)."""
    rows = []
    for index in range(min(int(form.get(f"{name}-rows", "0") or 0) if form.get(f"{name}-rows", "").isdigit()
                           else 0, MAX_REVIEW_ROWS)):
        row = {key: form.get(f"{name}-{index}-{key}", "").strip() for key in REVIEW_FIELDS}
        if not row["verdict"]:
            continue
        explained = {"supplement": "problem", "exempt": "reason"}.get(row["verdict"])
        rows.append({k: v for k, v in row.items() if k in ("matter", "material", "verdict", explained) and
                     (v or k in ("material", explained))})
    return rows


def parse(schema: Mapping[str, Any], form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Submitted form → (JSON data by schema type, errors of values that are not even of their type).

    Empty inputs are left out of the data, so the schema's `required` and defaults decide.
    """
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, spec in _properties(schema):
        widget = widget_of(spec)
        if widget == REVIEW_WIDGET:
            data[name] = review_from_form(name, form)
            continue
        if widget == "checkboxes":
            chosen = [v for v in form.getlist(name) if v]
            if chosen:
                data[name] = chosen
            continue
        if widget == "boolean":
            data[name] = form.get(name) == "true"
            continue
        raw = form.get(name, "").strip()
        if not raw:
            continue
        if widget == "lines":
            items = [line.strip() for line in raw.splitlines() if line.strip()]
            if items:
                data[name] = items
        elif widget == "number":
            number, error = _number(raw, _types(spec)[0] == "integer")
            if error:
                errors[name] = [error]
            else:
                data[name] = number
        else:
            data[name] = raw
    return data, errors
