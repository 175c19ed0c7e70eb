"""What a designer may upload (issue 10): any declared encoding deploys (stored as UTF-8) or is refused
with a reason, never a traceback; the 2 MB limit is checked before parsing; and validating a big
draft in windows finds exactly the problems validating it whole finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from engine.bpmn import loader
from engine.bpmn.loader import BpmnRejected, parse_safely, xsd_problems
from engine.models import AuditLog, ProcessDefinition
from tests.support.bpmn import moved_shape
from tests.support.cli import relief
from tests.support.db import BPMN_PATH, tx

SHIPPED = BPMN_PATH.read_text(encoding="utf-8")
RENAMED = SHIPPED.replace('name="一门受理·初步研判"', 'name="一门受理·初步研判（转码）"', 1)


def encoded(text: str, encoding: str) -> bytes:
    return text.replace('encoding="UTF-8"', f'encoding="{encoding}"', 1).encode(encoding)


@pytest.mark.parametrize("encoding", ["UTF-16", "GBK", "GB18030"])
def test_a_file_in_another_encoding_deploys_as_utf8(case_engine: Any, encoding: str) -> None:
    """The stored version is UTF-8 with its declaration updated; the Chinese names survive."""
    result = case_engine.deploy(encoded(RENAMED, encoding), "camunda.bpmn", "designer1", f"{encoding} 文件")
    assert (result.changed, result.version) == (True, 2)
    stored = case_engine.design.version_xml("relief_linkage", 2)
    assert "encoding='UTF-8'" in stored.splitlines()[0] and "一门受理·初步研判（转码）" in stored
    again = case_engine.deploy(encoded(RENAMED, encoding), "camunda.bpmn", "designer1", "再次")
    assert again.changed is False


@pytest.mark.parametrize(("data", "words"), [
    (SHIPPED.replace('encoding="UTF-8"', 'encoding="NO-SUCH-CODEC"', 1).encode(), "XML 格式错误"),
    (SHIPPED.replace("一门受理", "一门受理\udcff", 1).encode("utf-8", "surrogateescape"), "XML 格式错误"),
    (encoded(SHIPPED.replace("?>", '?><!DOCTYPE x [<!ENTITY e "秘密">]>', 1), "UTF-16"), "DOCTYPE"),
], ids=["unknown-codec", "bytes-not-utf8", "utf16-doctype"])
def test_an_undecodable_or_hostile_file_is_refused_with_a_reason(case_engine: Any, data: bytes, words: str) -> None:
    with pytest.raises(BpmnRejected) as refused:
        case_engine.deploy(data, "camunda.bpmn", "designer1", "坏文件")
    assert words in str(refused.value)


def test_relief_deploy_of_a_utf16_file_prints_no_traceback(county_db: str, tmp_path: Path) -> None:
    relief("deploy", str(BPMN_PATH), database_url=county_db)
    path = tmp_path / "utf16.bpmn"
    path.write_bytes(encoded(RENAMED, "UTF-16"))
    assert relief("deploy", str(path), database_url=county_db) == {"key": "relief_linkage", "version": 2,
                                                                   "changed": True}


def test_the_size_limit_is_checked_before_parsing(case_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An oversized file is refused by its size alone: the parser is never called."""
    def no_parsing(*_args: Any) -> None:
        raise AssertionError("parsed an oversized file")

    monkeypatch.setattr(loader, "parse_safely", no_parsing)
    oversized = SHIPPED.encode() + b" " * loader.MAX_BPMN_BYTES
    with pytest.raises(BpmnRejected) as refused:
        case_engine.deploy(oversized, "big.bpmn", "designer1", "太大")
    assert "超过 2 MB 上限" in str(refused.value)
    assert "超过 2 MB 上限" in case_engine.design.problems(oversized, "relief_linkage", "big.bpmn")[0].message


def _many_tasks(count: int, *, bogus_every: int = 0, duplicate: int | None = None,
                misplaced: int | None = None) -> bytes:
    """A process of `count` tasks with problems sprinkled in: bad attributes, a duplicate id, a documentation
    element out of place (the XSD wants it before the flow elements)."""
    parts = []
    for i in range(count):
        bogus = ' bogus="1"' if bogus_every and i % bogus_every == 0 else ""
        task_id = "t0" if duplicate is not None and i == duplicate else f"t{i}"
        parts.append(f'<bpmn:task id="{task_id}"{bogus}/>')
        if misplaced is not None and i == misplaced:
            parts.append("<bpmn:documentation>放错位置的说明</bpmn:documentation>")
    body = "\n".join(parts)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="{loader.BPMN_NS}" id="d" '
            f'targetNamespace="x">\n<bpmn:process id="p" isExecutable="true">\n{body}\n</bpmn:process>\n'
            '</bpmn:definitions>').encode()


@pytest.mark.parametrize("draft", [
    _many_tasks(40, bogus_every=7), _many_tasks(40, duplicate=23), _many_tasks(40, misplaced=10),
    _many_tasks(40, misplaced=3), _many_tasks(41, bogus_every=5, duplicate=40, misplaced=30),
], ids=["bad-attributes", "duplicate-id", "misplaced-lanes", "misplaced-at-a-window-edge", "all-three"])
def test_windowed_validation_finds_what_whole_validation_finds(draft: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """With windows of 4 children the problems (lines and elements) match validating the whole document;
    the tree is left as it was."""
    whole = {(p.line, p.element_id) for p in xsd_problems(parse_safely(draft, "d.bpmn"), "d.bpmn")}
    assert whole, "the draft was meant to be invalid"
    monkeypatch.setattr(loader, "XSD_WINDOW", 4)
    tree = parse_safely(draft, "d.bpmn")
    before = [element.get("id") for element in tree.iter()]
    windowed = {(p.line, p.element_id) for p in xsd_problems(tree, "d.bpmn")}
    # libxml2 stops checking a parent's children after an ordering error; windows may find more, never less.
    assert whole <= windowed, (whole, windowed)
    assert [element.get("id") for element in tree.iter()] == before


def test_at_most_two_hundred_problems_are_listed() -> None:
    tree = parse_safely(_many_tasks(1000, bogus_every=1), "d.bpmn")
    problems = xsd_problems(tree, "d.bpmn")
    assert len(problems) == loader.MAX_PROBLEMS + 1
    assert "另有 800 个问题未列出" in problems[-1].message


def reexported(xml: bytes) -> bytes:
    """What a modeler's re-export changes: other prefixes, no indentation between tags, a newer
    exporterVersion, a comment (scripts and conditions keep their text)."""
    flat = etree.tostring(etree.fromstring(xml, etree.XMLParser(remove_blank_text=True)), encoding="unicode")
    text = flat.replace("bpmn:", "semantic:").replace("xmlns:bpmn=", "xmlns:semantic=")
    text = text.replace('exporterVersion="5.0.0"', 'exporterVersion="5.31.0"')
    return text.replace("<semantic:process", "<!-- saved again --><semantic:process", 1).encode()


def test_a_save_that_changes_only_serialisation_makes_no_version(case_engine: Any, clean_db: str) -> None:
    """Re-exported with other prefixes, indentation and exporter version: the same model, no new version."""
    again = case_engine.deploy(reexported(BPMN_PATH.read_bytes()), "relief_linkage.bpmn", "designer1", "重新导出")
    assert (again.changed, again.version) == (False, 1)


def test_a_layout_only_change_makes_a_version_marked_layout_only(case_engine: Any, clean_db: str) -> None:
    """Moving a shape is a new version marked 仅布局; its samples do not run again (audited as such)."""
    moved = case_engine.deploy(moved_shape(BPMN_PATH.read_bytes()), "relief_linkage.bpmn", "designer1", "挪动")
    assert (moved.changed, moved.version, moved.layout_only) == (True, 2, True)
    renamed = case_engine.deploy(RENAMED.encode(), "relief_linkage.bpmn", "designer1", "改名")
    assert (renamed.version, renamed.layout_only) == (3, False)
    with tx(clean_db) as session:
        flags = {row.version: row.layout_only for row in session.execute(
            select(ProcessDefinition.version, ProcessDefinition.layout_only).where(ProcessDefinition.kind == "bpmn"))}
        entry = session.scalars(select(AuditLog).where(AuditLog.target == "relief_linkage@v2")).one()
    assert flags == {1: False, 2: True, 3: False}
    assert entry.details["layout_only"] is True and "samples_passed" not in entry.details
