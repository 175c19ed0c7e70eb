"""Full cases per second: the persisted engine (SQLite) against bare SpiffWorkflow in memory.

Both sides run the same process definition (processes/relief_linkage.bpmn) through the same
decisions in the same run. The baseline is SpiffWorkflow alone: one parsed spec, a plain
PythonScriptEngine (eval/exec), no database. The engine side is `CaseEngine` as the CLI and
web use it: sandboxed expressions, intake (checked against the demo county's regions, which are
loaded first), one transaction per step with the state written, the human-task mirror, the event
log and notices, on a real SQLite file.

Each scenario runs `--rounds` times, the sides interleaved (bare, engine without the workflow cache,
with it), and the medians are reported.

`--floor` measures instead what one persisted step cannot do without, on the three-department case
at its largest state: SpiffWorkflow's serializer load and dump of the task tree, the bare minimum
of rebuilding it (constructing its Task objects and parsing/writing its JSON), the thinnest write
transaction (the state, three events, the lock bump), and the ratio a step could reach with only
those costs on top of the bare step (`ceiling_ratio`).

Usage: python bench/engine_bench.py [--cases N | --quick] [--rounds N] [--database-url URL] [--floor]
The last line printed is `summary: name=value …` (cases/s per scenario and side, the ratios
`ratio_no_cache` and `ratio_cache`; with --floor the per-step figures in ms and `ceiling_ratio`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.task import Task  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine import db, schema  # noqa: E402
from engine.bpmn.loader import parse_safely  # noqa: E402
from engine.bpmn.parser import build_specs  # noqa: E402
from engine.bpmn.sandbox import SandboxScriptEngine  # noqa: E402
from engine.cases.runtime import CaseEngine  # noqa: E402
from engine.settings import Settings  # noqa: E402

BPMN = ROOT / "processes" / "relief_linkage.bpmn"
DMN = ROOT / "processes" / "relief_suggestion.dmn"
APPLICANT = {"name": "张三", "id_number": "34052419800101001X", "phone": "13800138000",
             "region": {"township": "T01", "village": "T01V01"}, "request": "因病致贫"}
# material_review: []: the forms' default (材料审查), which the bare runs do not apply
ACCEPT = {"materials": ["身份证"], "location": "窗口", "field_work": "none", "material_review": []}
RESULT = {"outcome": "approved", "content": "予以救助", "amount": 1000, "household_size": None}
QUICK_CASES = 20  # cases per scenario with --quick

# Each scenario: the data to submit for each form key (dept_accept may vary by department).
SCENARIOS: dict[str, dict[str, Any]] = {
    "ineligible": {"triage": {"decision": "ineligible", "reason": "收入超标", "material_review": []}},
    "one_department": {"triage": {"decision": "eligible", "departments": ["minzheng"], "material_review": []},
                       "dept_accept": ACCEPT, "dept_result": RESULT, "summary": {"summary": "办结"}},
    "three_departments": {"triage": {"decision": "eligible", "departments": ["minzheng", "yibao", "canlian"],
                                     "material_review": []},
                          "joint_plan": {"departments": ["minzheng", "yibao", "canlian"], "plan": "联动"},
                          "dept_accept": {**ACCEPT, "field_work": "township"},
                          "field_report": {"result": "已核查"}, "dept_result": RESULT,
                          "summary": {"summary": "办结"}},
}


def bare_runner(sandbox: str = "none") -> Callable[[dict[str, Any]], int]:
    """Return a function running one case on bare SpiffWorkflow in memory; it returns the step count.

    `sandbox` is the script engine: "none" (SpiffWorkflow's plain eval/exec, the baseline), "budget"
    (the product's sandbox with the run-time budget) or "no-budget" (RestrictedPython without it).
    """
    tree = parse_safely(BPMN.read_bytes(), BPMN.name)
    # The suggestion decision table the flow runs before triage (the engine deploys it with the flow).
    decisions = parse_safely(DMN.read_bytes(), DMN.name)
    spec, subprocess_specs = build_specs(tree, "relief_linkage", BPMN.name, [decisions])
    deadline = "2099-01-01T00:00:00+00:00"
    helpers = {"notify_applicant": lambda *args, **kwargs: None, "publish_notice": lambda *args, **kwargs: None,
               "workday_deadline": lambda n, green_channel=False: deadline}
    script_engine = (PythonScriptEngine(environment=TaskDataEnvironment(helpers)) if sandbox == "none"
                     else SandboxScriptEngine(helpers, budgeted=sandbox == "budget"))
    region = APPLICANT["region"]

    def run(decisions: dict[str, Any]) -> int:
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
        # What the engine starts a case with (CaseEngine._initial_data) that the flow reads: green_channel
        # (the overrun timer's workday_deadline(15, green_channel)), the matters (救助公示).
        workflow.get_next_task(state=TaskState.READY).data.update({"region": region, "case_no": "X",
                                                                   "green_channel": False, "situation": {},
                                                                   "matters": []})
        workflow.do_engine_steps()
        steps = 0
        while not workflow.is_completed():
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            task.data.update(decisions[task.task_spec.form.key])
            task.run()
            workflow.do_engine_steps()
            steps += 1
        return steps

    return run


def engine_runner(engine: CaseEngine) -> Callable[[dict[str, Any]], int]:
    """Return a function running one case through the persisted engine; it returns the step count."""

    def run(decisions: dict[str, Any]) -> int:
        case_no, _ = engine.start_case(APPLICANT, "window", "village")
        steps = 0
        tasks = engine.queries.list_tasks(case_no=case_no)
        while tasks:
            task = tasks[0]
            tasks = engine.complete_task(task["id"], "bench", decisions[task["form_key"]])  # the open tasks after
            steps += 1
        return steps

    return run


def measure(run: Callable[[dict[str, Any]], int], decisions: dict[str, Any], cases: int) -> tuple[float, int]:
    """Run `cases` cases (after one warm-up); return (cases per second, steps per case)."""
    steps = run(decisions)
    started = time.perf_counter()
    for _ in range(cases):
        run(decisions)
    return cases / (time.perf_counter() - started), steps


def budget_cost(cases: int) -> dict[str, str]:
    """The sandbox's run-time budget on versus off, in memory (no database), same flow and decisions."""
    print(f"{'scenario':<20}{'budget on cases/s':>20}{'budget off cases/s':>20}{'on/off':>8}")
    found: dict[str, str] = {}
    ratios = []
    for name, decisions in SCENARIOS.items():
        on = statistics.median(measure(bare_runner("budget"), decisions, cases)[0] for _ in range(3))
        off = statistics.median(measure(bare_runner("no-budget"), decisions, cases)[0] for _ in range(3))
        ratios.append(on / off)
        print(f"{name:<20}{on:>20.1f}{off:>20.1f}{ratios[-1]:>8.3f}")
        found[f"{name}_budget_on_off"] = f"{ratios[-1]:.3f}"
    found["budget_on_off_geomean"] = f"{statistics.geometric_mean(ratios):.3f}"
    return found


def per_call_ms(function: Callable[[], Any], calls: int = 200) -> float:
    """Milliseconds per call of `function` (after one warm-up call), the median of three runs."""
    function()
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        runs.append((time.perf_counter() - started) / calls * 1000)
    return statistics.median(runs)


def floor(url: str, engine: CaseEngine, cases: int) -> dict[str, str]:
    """The costs a persisted step cannot avoid, at the three-department case's largest state (see --floor)."""
    decisions = SCENARIOS["three_departments"]
    bare = bare_runner()
    bare(decisions)
    started = time.perf_counter()
    steps = sum(bare(decisions) for _ in range(cases))
    bare_step = (time.perf_counter() - started) / steps * 1000
    case_no, _ = engine.start_case(APPLICANT, "window", "village")
    tasks = engine.queries.list_tasks(case_no=case_no)
    while len(tasks) and tasks[0]["form_key"] != "summary":  # the last step: the state is at its largest
        tasks = engine.complete_task(tasks[0]["id"], "bench", decisions[tasks[0]["form_key"]])
    with engine.workflows.reading() as session:
        instance = engine.workflows.find_case(session, case_no)
        loaded = engine.workflows.specs.get_by_id(session, instance.definition_id)
    serializer = engine.workflows.serializer
    workflow = serializer.load(instance.state, instance.serializer_version, loaded.spec, loaded.subprocess_specs)
    trees = [workflow, *workflow.subprocesses.values()]
    task_count = sum(len(tree.tasks) for tree in trees)
    document = json.loads(instance.state)

    def construct() -> None:  # the objects alone: no data, no links, no events
        for tree in trees:
            for task in list(tree.tasks.values()):
                Task(tree, task.task_spec, state=task.state, id=task.id)

    bind = db.get_engine(url)  # the thinnest write, on tables of its own (the product's rows are not touched)
    with bind.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, state TEXT, lock_version INTEGER)")
        conn.exec_driver_sql("CREATE TABLE bench_floor_event (id INTEGER PRIMARY KEY, case_no TEXT, data TEXT)")
        conn.exec_driver_sql("INSERT INTO bench_floor VALUES (1, '', 0)")

    def write() -> None:
        with bind.begin() as conn:
            conn.exec_driver_sql("UPDATE bench_floor SET state = ? WHERE id = 1", (instance.state,))
            conn.exec_driver_sql("INSERT INTO bench_floor_event (case_no, data) VALUES (?, ?)",
                                 [(case_no, '{"kind":"x"}')] * 3)
            conn.exec_driver_sql("UPDATE bench_floor SET lock_version = lock_version + 1 WHERE id = 1")

    found = {
        "bare_step_ms": bare_step, "spiff_load_ms": per_call_ms(lambda: serializer.load(
            instance.state, instance.serializer_version, loaded.spec, loaded.subprocess_specs)),
        "spiff_dump_ms": per_call_ms(lambda: serializer.dump(workflow)),
        "construct_tasks_ms": per_call_ms(construct),
        "json_parse_ms": per_call_ms(lambda: json.loads(instance.state)),
        "json_write_ms": per_call_ms(lambda: json.dumps(document, ensure_ascii=False, separators=(",", ":"))),
        "write_transaction_ms": per_call_ms(write),
    }
    least = sum(found[k] for k in ("construct_tasks_ms", "json_parse_ms", "json_write_ms", "write_transaction_ms"))
    found["ceiling_ratio"] = bare_step / (bare_step + least)
    found["spiff_ratio"] = bare_step / (bare_step + found["spiff_load_ms"] + found["spiff_dump_ms"])
    print(f"state at the last step: {len(instance.state.encode()):,} bytes, {task_count} tasks in {len(trees)} trees")
    for name, value in found.items():
        print(f"  {name:<24}{value:>10.3f}")
    print("ceiling_ratio: the bare step ÷ (the bare step + constructing the tasks + parsing and writing the JSON "
          "+ the thinnest write transaction), nothing else counted")
    print("spiff_ratio: the bare step ÷ (the bare step + SpiffWorkflow's serializer load and dump), "
          "nothing else counted")
    return {"state_bytes": str(len(instance.state.encode())), "tasks": str(task_count),
            **{k: f"{v:.3f}" for k, v in found.items()}}


def main() -> None:
    """Run every scenario on both sides, repeated and interleaved; print medians, ratios and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions (medians are reported)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CASES} cases per scenario (a smoke run)")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file in a temp dir")
    parser.add_argument("--floor", action="store_true", help="what a persisted step cannot avoid (SQLite only)")
    args = parser.parse_args()
    if args.floor and args.database_url and not args.database_url.startswith("sqlite"):
        parser.error("--floor measures on SQLite only")
    cases = QUICK_CASES if args.quick else args.cases
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        schema.upgrade(url)
        # Logs and uploads of the run go to the temp dir, not the project's instance/.
        settings = Settings.from_environ(DATABASE_URL=url, INSTANCE_DIR=tmp)
        # "no cache": every step deserializes the workflow from the database (what the goal is measured
        # on); "cache": the in-process reuse of the last committed workflow object (an optimisation).
        engines = {"no cache": CaseEngine(settings, reuse_workflows=False), "cache": CaseEngine(settings)}
        engines["cache"].accounts.load_demo_data()  # applications are checked against the county's regions
        engines["cache"].deploy(BPMN.read_bytes(), BPMN.name, "bench")
        if args.floor:
            print("summary: " + " ".join(f"{k}={v}" for k, v in floor(url, engines["no cache"], cases).items()))
            return
        bare = bare_runner()
        print(f"database: {url.split('://')[0]}, cases per scenario: {cases}, rounds: {args.rounds} (medians)")
        print(f"{'scenario':<20}{'steps':>6}{'bare cases/s':>14}" + "".join(f"{k + ' cases/s':>20}" for k in engines)
              + "".join(f"{'ratio ' + k:>16}" for k in engines))
        summary: dict[str, str] = {"database": url.split("://")[0].split("+")[0], "cases": str(cases)}
        ratios: dict[str, list[float]] = {k: [] for k in engines}
        for name, decisions in SCENARIOS.items():
            rates: dict[str, list[float]] = {"bare": [], **{k: [] for k in engines}}
            steps = 0
            for _ in range(args.rounds):  # interleaved: a slow moment of the machine hits every side alike
                rate, steps = measure(bare, decisions, cases)
                rates["bare"].append(rate)
                for key, engine in engines.items():
                    rates[key].append(measure(engine_runner(engine), decisions, cases)[0])
            medians = {k: statistics.median(v) for k, v in rates.items()}
            for key in engines:
                ratios[key].append(medians[key] / medians["bare"])
            print(f"{name:<20}{steps:>6}{medians['bare']:>14.1f}" + "".join(f"{medians[k]:>20.1f}" for k in engines)
                  + "".join(f"{medians[k] / medians['bare']:>16.3f}" for k in engines))
            summary.update({f"{name}_bare": f"{medians['bare']:.1f}", f"{name}_no_cache": f"{medians['no cache']:.1f}",
                            f"{name}_cache": f"{medians['cache']:.1f}",
                            f"{name}_ratio_no_cache": f"{medians['no cache'] / medians['bare']:.3f}"})
        no_cache, cached = (statistics.geometric_mean(ratios[k]) for k in ("no cache", "cache"))
        print(f"persisted/in-memory ratio, geometric mean: {no_cache:.3f} without the cache, {cached:.3f} with it")
        summary.update({"ratio_no_cache": f"{no_cache:.3f}", "ratio_cache": f"{cached:.3f}"})
        summary.update(budget_cost(cases))
        print("summary: " + " ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
