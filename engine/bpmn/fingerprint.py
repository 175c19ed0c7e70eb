"""What a version of a process is, apart from how it is written (版本指纹).

Two saves of the same model differ in ways that change nothing: the modeler or the Camunda Modeler
re-exports with other indentation, attribute order, namespace prefixes, `exporterVersion`, an
XML comment. `fingerprints` reads a parsed document as two digests — the semantics (everything
but the diagram interchange, BPMN DI) and the layout (the DI) — each over a canonical form in which
none of those differences appears: qualified names in Clark notation, QName values resolved,
attributes and children sorted, whitespace-only text dropped, comments ignored. Deploy compares
them with the newest version: both equal → no new version; only the layout differs → a new version
marked 仅布局.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lxml import etree

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# Written by the tool that saved the file, not part of the model.
_SERIALISATION_ATTRIBUTES = frozenset({"exporter", "exporterVersion"})


@dataclass(frozen=True)
class Fingerprints:
    """The digests of a document's semantics and of its layout."""

    semantic: str
    layout: str


def fingerprints(tree: etree._ElementTree) -> Fingerprints:
    """The semantic and layout digests of a parsed BPMN document."""
    root = tree.getroot()
    semantic = [c for c in root if isinstance(c.tag, str) and etree.QName(c).namespace != DI_NS]
    layout = [c for c in root if isinstance(c.tag, str) and etree.QName(c).namespace == DI_NS]
    return Fingerprints(_digest([_opening(root), *sorted(_canonical(c) for c in semantic)]),
                        _digest(sorted(_canonical(c) for c in layout)))


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()


def _opening(element: etree._Element) -> str:
    attributes = []
    for name, value in element.attrib.items():
        if name in _SERIALISATION_ATTRIBUTES:
            continue
        if name == XSI_TYPE and ":" in value:
            prefix, local = value.split(":", 1)
            value = f"{{{element.nsmap.get(prefix, prefix)}}}{local}"
        attributes.append(f"{name}={value}")
    text = (element.text or "").strip()
    return f"<{element.tag} {' '.join(sorted(attributes))}>{element.text if text else ''}"


def _canonical(element: etree._Element) -> str:
    children = sorted(_canonical(c) for c in element if isinstance(c.tag, str))
    return _opening(element) + "".join(children) + "</>"
