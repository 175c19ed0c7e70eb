"""Check a draft BPMN for the process designer: the deploy checks plus reachability (流程设计 · 草稿检查).

The deploy checks (`engine.bpmn.definitions.validate`) refuse what cannot run: XSD errors, unknown
forms and groups, expressions the sandbox refuses. A flow can pass them and still strand a case — a
task no sequence flow leads to, or one from which no end event can be reached; those are found by
`engine.bpmn.reachability`. Here both lists are joined, as the modeler shows them.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from engine.bpmn.definitions import validate_all
from engine.bpmn.loader import NO_DEPENDENCIES, BpmnRejected, Dependencies, Problem, capped, parse_draft
from engine.bpmn.reachability import reachability_problems
from engine.settings import Settings


def check_draft(xml: bytes, filename: str, settings: Settings,
                dependencies: Dependencies = NO_DEPENDENCIES) -> list[Problem]:
    """Return every problem that would refuse or strand the draft; [] when it may be deployed.
    `dependencies` are the deployed processes and decisions its call activities and rule tasks reach."""
    try:
        tree = parse_draft(xml, filename)
    except BpmnRejected as err:
        return err.problems
    return capped(_unique([*_deploy_problems(xml, filename, settings, dependencies, tree),
                           *reachability_problems(tree, filename)]), filename)


def _deploy_problems(xml: bytes, filename: str, settings: Settings, dependencies: Dependencies,
                     tree: etree._ElementTree) -> list[Problem]:
    try:
        validate_all(xml, filename, settings, dependencies, tree)
    except BpmnRejected as err:
        return err.problems
    return []


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


