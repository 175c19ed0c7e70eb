"""Reachability of a BPMN document (可达性检查): every element reachable from a start event and able
to reach an end event, per scope (the process and each subprocess, which have their own start and
end events). Deploy refuses a document that fails it, and the modeler's 校验 shows the same problems.
"""

from __future__ import annotations

from collections import deque

from lxml import etree

from engine.bpmn.elements import FLOW_NODE_TAGS, executable_processes, is_bpmn, label, local_name, scopes
from engine.bpmn.loader import Problem

Graph = dict[str, set[str]]


def reachability_problems(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Elements a start event cannot reach, or that cannot reach an end event, in every scope."""
    return [problem for process in executable_processes(tree) for scope in scopes(process)
            for problem in _ScopeCheck(scope, filename).problems()]


class _ScopeCheck:
    """Reachability inside one process or subprocess: every node from a start, to an end."""

    def __init__(self, scope: etree._Element, filename: str):
        self.scope, self.filename = scope, filename
        self.nodes = {c.get("id"): c for c in scope if c.get("id") and is_bpmn(c, *FLOW_NODE_TAGS)}
        self.found: list[Problem] = []

    def problems(self) -> list[Problem]:
        forward, exits = self._graphs()
        # Event subprocesses start on their event, not on a sequence flow; they are checked inside.
        triggered = {i for i, n in self.nodes.items() if n.get("triggeredByEvent") == "true"}
        starts = self._of_kind("startEvent") | triggered
        ends = self._of_kind("endEvent")
        if not starts:
            self._add(self.scope, f"{self._scope_label()}缺少开始事件")
        if not ends:
            self._add(self.scope, f"{self._scope_label()}缺少结束事件")
        if starts:
            for node_id in self.nodes.keys() - _reach(forward, starts):
                self._add(self.nodes[node_id], f"「{label(self.nodes[node_id])}」从开始事件无法到达")
        if ends:
            for node_id in self.nodes.keys() - _reach(_reverse(exits), ends) - triggered:
                self._add(self.nodes[node_id], f"「{label(self.nodes[node_id])}」无法到达任何结束事件")
        return sorted(self.found, key=lambda p: (p.line or 0, p.element_id or ""))

    def _graphs(self) -> tuple[Graph, Graph]:
        """Return the edges a token may take (forward) and those by which it may leave (exits)."""
        forward: Graph = {node_id: set() for node_id in self.nodes}
        exits: Graph = {node_id: set() for node_id in self.nodes}
        for flow in self.scope:
            if is_bpmn(flow, "sequenceFlow"):
                source, target = self._endpoint(flow, "sourceRef"), self._endpoint(flow, "targetRef")
                if source and target:
                    forward[source].add(target)
                    exits[source].add(target)
        for node_id, node in self.nodes.items():
            attached = node.get("attachedToRef")
            if local_name(node) == "boundaryEvent" and attached in self.nodes:
                forward[attached].add(node_id)
                # Only an interrupting boundary event takes the token out of its activity.
                if node.get("cancelActivity") != "false":
                    exits[attached].add(node_id)
        return forward, exits

    def _endpoint(self, flow: etree._Element, attribute: str) -> str | None:
        ref = flow.get(attribute)
        if ref in self.nodes:
            return ref
        if not ref:
            self._add(flow, f"顺序流「{label(flow)}」缺少 {attribute}")
        else:
            self._add(flow, f"顺序流「{label(flow)}」的 {attribute}「{ref}」不是{self._scope_label()}中的流程节点")
        return None

    def _of_kind(self, kind: str) -> set[str]:
        return {node_id for node_id, node in self.nodes.items() if local_name(node) == kind}

    def _scope_label(self) -> str:
        kind = "流程" if local_name(self.scope) == "process" else "子流程"
        return f"{kind}「{label(self.scope)}」"

    def _add(self, element: etree._Element, message: str) -> None:
        self.found.append(Problem(self.filename, element.sourceline, element.get("id"), message))


def _reach(graph: Graph, roots: set[str]) -> set[str]:
    seen, queue = set(roots), deque(roots)
    while queue:
        for successor in graph.get(queue.popleft(), ()):
            if successor not in seen:
                seen.add(successor)
                queue.append(successor)
    return seen


def _reverse(graph: Graph) -> Graph:
    reverse: Graph = {node: set() for node in graph}
    for source, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, set()).add(source)
    return reverse
