"""Validation time against draft size: the modeler's 校验 (`check_draft`) for 10k / 40k / 80k elements.

Two shapes of draft, built in memory:
- branches: a start event, a parallel split into branches of 50 user tasks each (form, group,
  dueWorkdays), a parallel join and an end event — N/2 tasks, N/2 flows, a diagram shape per task:
  what a big but valid model looks like (one chain of thousands of steps is refused by
  SpiffWorkflow's recursive parser, so depth stays at 50);
- broken: N tasks under one process, each with an attribute the XSD refuses — the case that took
  minutes when every schema error counted its parent's children.

Linear cost means the 40k and 80k times are about 4 and 8 times the 10k time. The baseline, in the
same run, is what lxml alone costs on the same document: one parse plus one XSD validation of the
whole tree (for the broken shape only up to 20k elements, where it already takes seconds — that is
the quadratic behaviour the windows avoid). The 2 MB upload limit is lifted for the size series and
then kept for the last figure: the largest draft of each shape under 2 MB, through `check_draft`.

Usage: python bench/validate_bench.py [--quick]
The last line printed is `summary: name=value …`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.bpmn import loader  # noqa: E402
from engine.bpmn.design import check_draft  # noqa: E402
from engine.settings import Settings  # noqa: E402

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://bpmn.io/schema/bpmn">\n'
        '<bpmn:process id="big" name="大流程" isExecutable="true">\n')
USER_TASK = ('<bpmn:userTask id="t{i}" name="环节{i}" camunda:formKey="summary" camunda:candidateGroups="center">'
             '<bpmn:extensionElements><camunda:properties><camunda:property name="dueWorkdays" value="2"/>'
             '</camunda:properties></bpmn:extensionElements></bpmn:userTask>\n'
             '<bpmn:sequenceFlow id="f{i}" sourceRef="{prev}" targetRef="t{i}"/>\n')


BRANCH = 50


def branches(elements: int) -> bytes:
    """A valid model of elements/2 user tasks in parallel branches of BRANCH, with a shape per task."""
    tasks = elements // 2
    body = [HEAD, '<bpmn:startEvent id="s" name="开始"/>\n<bpmn:parallelGateway id="split" name="分派"/>\n'
                  '<bpmn:parallelGateway id="join" name="汇总"/>\n<bpmn:endEvent id="e" name="结束"/>\n'
                  '<bpmn:sequenceFlow id="fs" sourceRef="s" targetRef="split"/>\n'
                  '<bpmn:sequenceFlow id="fe" sourceRef="join" targetRef="e"/>\n']
    for i in range(tasks):
        first, last = i % BRANCH == 0, i % BRANCH == BRANCH - 1 or i == tasks - 1
        body.append(USER_TASK.format(i=i, prev="split" if first else f"t{i - 1}"))
        if last:
            body.append(f'<bpmn:sequenceFlow id="fj{i}" sourceRef="t{i}" targetRef="join"/>\n')
    body.append('</bpmn:process>\n<bpmndi:BPMNDiagram id="dg"><bpmndi:BPMNPlane id="pl" bpmnElement="big">\n')
    body += [f'<bpmndi:BPMNShape id="t{i}_di" bpmnElement="t{i}"><dc:Bounds x="{i * 10}" y="0" width="100" '
             'height="80"/></bpmndi:BPMNShape>\n' for i in range(tasks)]
    body.append("</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n</bpmn:definitions>\n")
    return "".join(body).encode()


def broken(elements: int) -> bytes:
    """`elements` tasks in one process, every one with an attribute the XSD does not allow."""
    body = [HEAD, '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
                  '<bpmn:sequenceFlow id="fe" sourceRef="s" targetRef="e"/>\n']
    body += [f'<bpmn:task id="t{i}" bogus="1"/>\n' for i in range(elements)]
    body.append("</bpmn:process>\n</bpmn:definitions>\n")
    return "".join(body).encode()


def timed(run: Callable[[], object], repeat: int) -> float:
    """The median wall time of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def lxml_alone(xml: bytes) -> None:
    """The baseline: parse once and validate the whole tree against the XSD once."""
    loader._xsd().validate(loader.parse_safely(xml, "baseline.bpmn"))


def largest_under_limit(shape: Callable[[int], bytes]) -> bytes:
    """The biggest draft of `shape` that still fits the upload limit."""
    low, high = 100, 200_000
    while high - low > 100:
        middle = (low + high) // 2
        low, high = (middle, high) if len(shape(middle)) <= loader.MAX_BPMN_BYTES else (low, middle)
    return shape(low)


def main() -> None:
    """Time `check_draft` for each shape and size, print the table, ratios and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per size and 10k/40k only (a smoke run)")
    args = parser.parse_args()
    sizes = [10_000, 40_000] if args.quick else [10_000, 40_000, 80_000]
    repeat = 1 if args.quick else 3
    settings = Settings.from_environ()
    summary: dict[str, str] = {}
    limit = loader.MAX_BPMN_BYTES
    print(f"{'shape':<10}{'elements':>10}{'KiB':>8}{'check_draft s':>16}{'lxml alone s':>14}{'× 10k':>8}"
          f"{'problems':>10}")
    for name, shape in (("branches", branches), ("broken", broken)):
        first = None
        for size in sizes:
            xml = shape(size)
            loader.MAX_BPMN_BYTES = len(xml) + 1  # the size series goes beyond the upload limit
            seconds = timed(lambda xml=xml: check_draft(xml, "big.bpmn", settings), repeat)
            problems = [len(check_draft(xml, "big.bpmn", settings))]
            baseline = (timed(lambda xml=xml: lxml_alone(xml), repeat)
                        if name == "branches" or size <= 20_000 else float("nan"))
            loader.MAX_BPMN_BYTES = limit
            first = first or seconds
            print(f"{name:<10}{size:>10}{len(xml) // 1024:>8}{seconds:>16.2f}{baseline:>14.2f}{seconds / first:>8.1f}"
                  f"{problems[-1]:>10}")
            summary[f"{name}_{size // 1000}k_s"] = f"{seconds:.2f}"
            summary[f"{name}_{size // 1000}k_lxml_s"] = f"{baseline:.2f}"
            summary[f"{name}_{size // 1000}k_ratio"] = f"{seconds / first:.1f}"
        under = largest_under_limit(shape)
        seconds = timed(lambda under=under: check_draft(under, "big.bpmn", settings), repeat)
        print(f"{name:<10}{'≤ 2 MB':>10}{len(under) // 1024:>8}{seconds:>16.2f}")
        summary[f"{name}_2mb_s"] = f"{seconds:.2f}"
    print("summary: " + " ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
