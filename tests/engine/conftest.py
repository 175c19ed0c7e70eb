"""Engine test helpers: walk a case task by task through the real store."""

from __future__ import annotations

from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.definitions import SpecCache
from tests.conftest import BPMN_PATH


class CaseWalker:
    """Drives one case through the engine, checking the store after every step."""

    def __init__(self, engine: Any, case_no: str):
        self.engine, self.case_no = engine, case_no

    def open_tasks(self, form_key: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
        """Return the case's open tasks, optionally filtered by form key and candidate group."""
        tasks = self.engine.list_tasks(case_no=self.case_no)
        return [t for t in tasks if (form_key is None or t["form_key"] == form_key)
                and (group is None or group in t["candidate_groups"])]

    def complete(self, form_key: str, data: dict[str, Any], user: str = "tester",
                 group: str | None = None) -> list[dict[str, Any]]:
        """Complete the one open task with `form_key` (and `group`), then re-check the store."""
        tasks = self.open_tasks(form_key, group)
        assert len(tasks) == 1, f"expected one open {form_key} task for {group}, found {tasks}"
        result = self.complete_id(tasks[0]["id"], data, user)
        return result

    def complete_id(self, task_id: str, data: dict[str, Any], user: str = "tester") -> list[dict[str, Any]]:
        """Complete a task by id and check the mirror against the restored workflow."""
        # A fresh spec cache per step, as if every step ran in a new process: nothing may
        # survive in memory between steps except what the database holds.
        self.engine.specs = SpecCache()
        result = self.engine.complete_task(task_id, user, data)
        self.check_store()
        return result

    def check_store(self) -> None:
        """Restore the workflow from the database; its READY user tasks must equal the mirror."""
        workflow = self.engine.restore_workflow(self.case_no)
        ready = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
        mirrored = {t["id"] for t in self.engine.list_tasks(case_no=self.case_no)}
        assert ready == mirrored

    def show(self) -> dict[str, Any]:
        """Return `relief case show` for the case."""
        return self.engine.show_case(self.case_no)

    def events(self, type_: str) -> list[dict[str, Any]]:
        """Return the case's history entries of one type."""
        return [e for e in self.show()["history"] if e["type"] == type_]


@pytest.fixture
def case_engine(clean_db: str) -> Any:
    """An engine that deserializes from the database at every step (no workflow reuse)."""
    from engine.cases.runtime import CaseEngine

    engine = CaseEngine(clean_db, reuse_workflows=False)
    engine.deploy(BPMN_PATH.read_bytes(), BPMN_PATH.name, "test")
    return engine


@pytest.fixture
def start_case(case_engine: Any, applicant: dict[str, Any]) -> Any:
    """Start a case and return a CaseWalker for it."""

    def start(green_channel: bool = False, **changes: Any) -> CaseWalker:
        record = {**applicant, **changes}
        case_no, _ = case_engine.start_case(record, "window", "village", green_channel, "clerk1")
        walker = CaseWalker(case_engine, case_no)
        walker.check_store()
        return walker

    return start
