"""The application form shared by window registration (`web.intake`) and the portal (`web.portal`).

Only reading the request lives here: the values as typed (to redraw the form), the applicant
record and the uploads `CaseEngine.start_case` takes. Checking them is the engine's.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict

from engine.cases import materials
from engine.cases.intake import MAX_LENGTHS
from web.services import engine

TEXT_FIELDS = ("name", "id_number", "phone", "township", "village", "address", "request", "question", "answer")
MAX_TEXT = 5000  # read at most this much of a field; the engine says what is accepted


def read_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The submitted values, trimmed, as the form re-renders them."""
    values: dict[str, Any] = {key: form.get(key, "").strip()[:MAX_TEXT] for key in TEXT_FIELDS}
    values["kind"] = "consultation" if form.get("kind") == "consultation" else "application"
    values["matters"] = list(dict.fromkeys(m for m in form.getlist("matters") if m))[:50]
    values["green_channel"] = form.get("green_channel") == "1"
    values["situation"] = _situation(form)
    return values


SITUATION_FLAGS = ("disability", "serious_illness", "student", "housing_difficulty", "sudden_hardship")


def _situation(form: MultiDict[str, str]) -> dict[str, Any]:
    """The applicant's situation as ticked and typed (forms/situation.json); empty fields left out."""
    found: dict[str, Any] = {flag: True for flag in SITUATION_FLAGS if form.get(f"situation_{flag}") == "1"}
    household = form.get("situation_household_type", "").strip()
    if household:
        found["household_type"] = household[:50]
    income = form.get("situation_monthly_income", "").strip()[:20]
    if income:
        try:
            found["monthly_income"] = float(income) if "." in income else int(income)
        except ValueError:
            found["monthly_income"] = income  # the engine says it is not a number
    return found


def region_of(values: dict[str, Any]) -> dict[str, str | None]:
    """The region the two selects chose."""
    return {"township": values["township"], "village": values["village"] or None}


def applicant_of(values: dict[str, Any]) -> dict[str, Any]:
    """The applicant record `CaseEngine.start_case` takes, from form values."""
    return {"name": values["name"], "id_number": values["id_number"], "phone": values["phone"],
            "region": region_of(values), "address": values["address"], "request": values["request"],
            "matters": values["matters"], "situation": values.get("situation") or {}}


def read_uploads(files: list[FileStorage]) -> list[materials.Upload]:
    """The chosen files (empty file inputs skipped), each read to at most one byte over the limit."""
    return [materials.Upload(f.filename or "", f.stream.read(materials.MAX_FILE_BYTES + 1))
            for f in files if f and f.filename]


def form_choices() -> dict[str, Any]:
    """Townships and villages for the region selects, the matter catalog, field limits and upload limits."""
    found = engine()
    regions = found.queries.regions()
    matters = [(code, m["name"]) for code, m in found.settings.reference.selectable_matters().items()]
    situation = found.settings.forms.load_schema("situation")["properties"]
    return {**regions, "matters": matters, "limits": MAX_LENGTHS, "max_files": materials.MAX_FILES,
            "max_mb": materials.MAX_FILE_BYTES // (1024 * 1024), "situation": situation,
            "situation_flags": SITUATION_FLAGS}
