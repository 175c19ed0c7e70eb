"""The complaint form shared by the portal's 投诉反馈 (`web.portal`) and staff registration
(`web.feedback`): only reading the request lives here; checking it is the engine's."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

COMPLAINT_FIELDS = ("complaint_type", "text", "name", "phone", "case_no", "about_org")
STAFF_FIELDS = ("about_user",)  # only staff know the username of whom a complaint is about
MAX_TEXT = 5000  # read at most this much of a field; the engine says what is accepted


def read_complaint(form: MultiDict[str, str], staff: bool = False) -> dict[str, Any]:
    """The submitted complaint, trimmed, as the engine takes it and the form re-renders it."""
    fields = (*COMPLAINT_FIELDS, *(STAFF_FIELDS if staff else ()))
    values: dict[str, Any] = {key: form.get(key, "").strip()[:MAX_TEXT] for key in fields}
    values["anonymous"] = form.get("anonymous") == "1"
    return values
