"""批量操作 in the inbox (R-6.1.4): a supervisor assigns several tasks to one colleague, or releases them to
their groups, in one request. Each task goes through the one-task action (`CaseEngine.assign_task`,
`release_task`: the same checks, each its own step), so one refusal — not a candidate, already done, out of
the supervisor's scope — leaves the others done; every task's outcome comes back in Chinese, and the batch
is audited once with what succeeded and what failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import clock
from engine.access import scoping
from engine.access.principals import Principal
from engine.audit.chain import audit
from engine.errors import EngineError, InvalidData

if TYPE_CHECKING:
    from engine.cases.runtime import CaseEngine

MAX_TASKS = 100
BULK_ACTIONS = ("assign", "release")


class BulkActions:
    """Assigning or releasing several tasks at once (`CaseEngine.bulk`)."""

    def __init__(self, engine: CaseEngine):
        self.engine = engine

    def run(self, principal: Principal, action: str, task_ids: list[str], assignee: str = "") -> list[dict[str, Any]]:
        """Assign (to `assignee`) or release each task → [{task_id, ok, name, message}] in the order given."""
        scoping.require(principal, "bulk_assign")
        wanted = list(dict.fromkeys(t for t in task_ids if t))
        errors: dict[str, list[str]] = {}
        if action not in BULK_ACTIONS:
            errors["action"] = ["请选择批量操作：指派或退回组内"]
        if not wanted:
            errors["task_ids"] = ["请先勾选任务"]
        elif len(wanted) > MAX_TASKS:
            errors["task_ids"] = [f"一次最多处理 {MAX_TASKS} 项任务"]
        if action == "assign" and not assignee.strip():
            errors["assignee"] = ["请填写要指派给的同事的用户名"]
        if errors:
            raise InvalidData("无法批量处理", errors)
        results = [self._one(principal, action, task_id, assignee.strip()) for task_id in wanted]
        with self.engine.workflows.transaction() as session:
            audit(session, principal.username, "tasks_bulk_assigned" if action == "assign" else "tasks_bulk_released",
                  clock.now(), assignee=assignee.strip() or None, count=len(results),
                  done=[r["task_id"] for r in results if r["ok"]],
                  failed=[r["task_id"] for r in results if not r["ok"]])
        return results

    def _one(self, principal: Principal, action: str, task_id: str, assignee: str) -> dict[str, Any]:
        try:
            if action == "assign":
                done = self.engine.assign_task(task_id, assignee, principal.username, principal=principal)
            else:
                done = self.engine.release_task(task_id, principal.username, principal=principal)
        except InvalidData as refused:
            reasons = [m for ms in refused.errors.values() for m in ms] or [refused.message]
            return {"task_id": task_id, "ok": False, "name": "", "message": "；".join(reasons)}
        except EngineError as refused:
            return {"task_id": task_id, "ok": False, "name": "", "message": refused.message}
        message = f"已指派给 {assignee}" if action == "assign" else "已退回组内"
        return {"task_id": task_id, "ok": True, "name": done.get("name", ""), "message": message, "case_no":
                done.get("case_no", "")}
