"""Read-only views of running cases for the CLI, web and API: task lists, a case's state, regions."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select

from engine import clock
from engine.access.accounts import Principal
from engine.cases import store
from engine.cases.casefile import api_applicant
from engine.cases.progress import requested_items
from engine.cases.regions import places
from engine.cases.tasks import task_summary
from engine.cases.workflows import Workflows
from engine.models import ProcessDefinition


class CaseQueries:
    """Queries of running cases; each call is one read transaction."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows

    def list_tasks(self, group: str | None = None, case_no: str | None = None) -> list[dict[str, Any]]:
        """List open user tasks, optionally of one candidate group and/or one case."""
        now = clock.now()
        with self.workflows.reading() as session:
            rows = store.open_tasks(session.connection(), case_no=case_no, group=group)
            return [task_summary(r, now) for r in rows]

    def show_case(self, case_no: str, principal: Principal | None = None, applicant: bool = False) -> dict[str, Any]:
        """Return a case's status, definition version, open tasks and full history (NotFound outside scope);
        with `applicant`, the applicant masked (the REST API's case)."""
        now = clock.now()
        with self.workflows.reading() as session:
            conn = session.connection()
            instance = self.workflows.visible_case(session, principal, case_no)
            shown = {"applicant": api_applicant(session, case_no)} if applicant else {}
            return {
                **shown, "case_no": case_no, "status": instance.status,
                "definition_version": store.definition_version(conn, instance.definition_id),
                "open_tasks": [task_summary(r, now) for r in store.open_tasks(conn, case_no=case_no)],
                "history": [{"type": e.type, "task": e.task_name, "task_id": e.task_id, "actor": e.actor,
                             "at": e.at.isoformat(), "data": e.data} for e in store.events_of_case(conn, case_no)],
                "hotline_order_no": store.hotline_order_of(conn, case_no),
                # 待补正: the case waits for the applicant's supplement
                "supplement": {"since": clock.aware(instance.supplement_since).isoformat(),
                               "items": requested_items(conn, self.workflows.settings.reference, case_no,
                                                        instance.supplement_since)}
                if instance.awaiting_supplement and instance.supplement_since else None,
            }

    def restore_workflow(self, case_no: str) -> BpmnWorkflow:
        """Deserialize a case's workflow from the database (never from the reuse cache)."""
        with self.workflows.reading() as session:
            instance = self.workflows.find_case(session, case_no)
            loaded = self.workflows.specs.get_by_id(session, instance.definition_id)
            return self.workflows.restore(instance, loaded)

    def definitions(self) -> list[ProcessDefinition]:
        """Return every deployed definition, newest first."""
        with self.workflows.reading() as session:
            return list(session.scalars(select(ProcessDefinition).order_by(
                ProcessDefinition.key, ProcessDefinition.version.desc())))

    def regions(self, active_only: bool = True) -> dict[str, list[tuple[str, ...]]]:
        """The county's townships (code, name) and villages (code, name, township) for region selects: those
        that take new cases (not 停用), or with `active_only=False` every one (filters of what exists)."""
        with self.workflows.reading() as session:
            found = places(session.connection(), active_only)
        return {"townships": [(p.code, p.name) for p in found if p.kind == "township"],
                "villages": [(p.code, p.name, p.parent or "") for p in found if p.kind == "village"]}
