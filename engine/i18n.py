"""Marking engine-side labels for translation (the engine itself has no locale)."""

from __future__ import annotations


def _l(text: str) -> str:
    """Mark `text` for extraction into the catalog; pages translate it when they render it."""
    return text
