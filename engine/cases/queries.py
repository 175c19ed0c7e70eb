"""Read-only views of running cases for the CLI, web and API: task lists, case history, state."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.access import scoping
from engine.access.accounts import Principal
from engine.bpmn.definitions import SpecCache
from engine.bpmn.serializer import StateSerializer
from engine.cases import store
from engine.cases.tasks import task_summary
from engine.errors import NotFound
from engine.models import ProcessDefinition


class CaseQueries:
    """Queries of `CaseEngine` (a mixin: it uses the engine's transaction, specs and serializer)."""

    specs: SpecCache
    serializer: StateSerializer
    script_engine: Any

    def _transaction(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    @staticmethod
    def _open_tasks(session: Session, case_no: str, now: datetime) -> list[dict[str, Any]]:
        return [task_summary(r, now) for r in store.open_tasks(session.connection(), case_no=case_no)]

    def list_tasks(self, group: str | None = None, case_no: str | None = None) -> list[dict[str, Any]]:
        """List open user tasks, optionally of one candidate group and/or one case."""
        now = clock.now()
        with self._transaction() as session:
            rows = store.open_tasks(session.connection(), case_no=case_no, group=group)
            return [task_summary(r, now) for r in rows]

    def show_case(self, case_no: str, principal: Principal | None = None) -> dict[str, Any]:
        """Return a case's status, definition version, open tasks and full history."""
        now = clock.now()
        with self._transaction() as session:
            conn = session.connection()
            instance = store.find_instance(conn, case_no)
            visible = principal is None or conn.execute(scoping.case_visible_clause(principal, case_no)).first()
            if instance is None or not visible:
                raise NotFound(f"案件 {case_no} 不存在或不在您的权限范围内")
            return {
                "case_no": case_no, "status": instance.status,
                "definition_version": store.definition_version(conn, instance.definition_id),
                "open_tasks": self._open_tasks(session, case_no, now),
                "history": [{"type": e.type, "task": e.task_name, "task_id": e.task_id, "actor": e.actor,
                             "at": e.at.isoformat(), "data": e.data} for e in store.events_of_case(conn, case_no)],
            }

    def restore_workflow(self, case_no: str) -> BpmnWorkflow:
        """Deserialize a case's workflow from the database (never from the reuse cache)."""
        with self._transaction() as session:
            instance = store.find_instance(session.connection(), case_no)
            if instance is None:
                raise NotFound(f"案件 {case_no} 不存在")
            loaded = self.specs.get_by_id(session, instance.definition_id)
            workflow = self.serializer.load(instance.state, instance.serializer_version,
                                            loaded.spec, loaded.subprocess_specs)
            workflow.script_engine = self.script_engine
            return workflow

    def definitions(self) -> list[ProcessDefinition]:
        """Return every deployed definition, newest first."""
        with self._transaction() as session:
            return list(session.scalars(select(ProcessDefinition).order_by(
                ProcessDefinition.key, ProcessDefinition.version.desc())))
