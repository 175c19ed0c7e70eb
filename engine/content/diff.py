"""What changed between two revisions of an item (修订对比): field by field, the text line by line."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.content.records import FIELDS
from engine.status import CONTENT_STATUSES

CONTEXT_LINES = 2
# The unified diff's line marks → what a page calls them.
LINE_KINDS = {"+": "added", "-": "removed", " ": "same", "@": "hunk"}


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its values as shown, and for the text the changed lines with context."""

    name: str
    label: str
    before: str
    after: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (added | removed | same | hunk, line)


def shown(name: str, value: Any) -> str:
    """A record's value as a page shows it (the status by its label, a PDF by its name and size)."""
    if value is None:
        return ""
    if name == "status":
        return CONTENT_STATUSES.get(value, value)
    if name == "pdf":
        return f"{value['filename']}（{max(1, round(value['size'] / 1024))} KB）"
    return str(value)


def text_diff(before: str, after: str) -> list[tuple[str, str]]:
    """The lines of a unified diff of two texts (without its file header), each with its kind."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=CONTEXT_LINES)
    return [(LINE_KINDS[line[0]], line if line.startswith("@@") else line[1:])
            for line in lines if line and not line.startswith(("---", "+++"))]


def diff_records(kind: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    """The fields of `kind` whose values differ between two records, in the kind's order."""
    changes = []
    for name, label in FIELDS[kind].items():
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        lines = text_diff(old or "", new or "") if name == "body" else []
        changes.append(FieldChange(name, label, shown(name, old), shown(name, new), lines))
    return changes
