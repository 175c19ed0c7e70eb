"""The PDF case file (案卷): the dossier rendered into `templates/casefile.html`, then by WeasyPrint.

WeasyPrint lays text out with Pango and embeds the fonts fontconfig finds (a CJK font from Debian:
fonts-wqy-microhei, see .ci/run); it is imported on first use, so the CLI and the pages start without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from engine import clock

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["local_time"] = clock.local_text
    return environment


def casefile_html(dossier: Mapping[str, Any]) -> str:
    """The case file as HTML (what the PDF shows)."""
    return _environment().get_template("casefile.html").render(**dossier)


def render(dossier: Mapping[str, Any]) -> bytes:
    """The case file as PDF bytes."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=casefile_html(dossier), base_url=str(TEMPLATES)).write_pdf()
    return pdf
