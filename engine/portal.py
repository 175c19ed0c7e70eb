"""What the public portal reads without sign-in (R-6.2.1): 救助类别 with their 救助项目, one matter's 服务指南,
the deployed linkage flow explained step by step (救助流程) and the service windows (办事大厅) with their
addresses, opening hours and phones.

Everything here is read only and public: the catalog's matters that are not disabled (停用), the newest
deployed version of the linkage process, and the organisations that keep a window. No case and no
person is read.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from sqlalchemy import select

from engine.access.orgs import WINDOW_FIELDS, tel_uri, window_matters
from engine.access.scoping import WINDOW_LEVELS
from engine.bpmn import elements
from engine.bpmn.definitions import latest_definition
from engine.bpmn.loader import BPMN_NS
from engine.cases.workflows import Workflows
from engine.errors import NotFound
from engine.reference import ReferenceData
from engine.status import LINKAGE_PROCESS
from engine.tables import ORGS


class PortalQueries:
    """The portal's public reads (`CaseEngine.portal`); each call is one read transaction at most."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows

    @property
    def reference(self) -> ReferenceData:
        """Assistance types, departments and the matter catalog."""
        return self.workflows.settings.reference

    def assistance_items(self) -> list[dict[str, Any]]:
        """救助类别 in their file's order, each with its 救助项目: the matters of that type the public sees
        (在用 and 待县确认, never 停用), in the catalog's order. A matter of a type the file no longer has
        comes last, under its code."""
        shown = self.reference.selectable_matters().values()
        types = self.reference.assistance_types()
        found = [{"code": code, "name": kind["zh"], "matters": [m for m in shown if m["assistance_type"] == code]}
                 for code, kind in types.items()]
        for code in dict.fromkeys(m["assistance_type"] for m in shown if m["assistance_type"] not in types):
            found.append({"code": code, "name": code, "matters": [m for m in shown if m["assistance_type"] == code]})
        return found

    def guide(self, code: str) -> dict[str, Any]:
        """服务指南 of one matter: its record with the names of its department and assistance type;
        NotFound when the catalog has no such matter or it is disabled."""
        matter = self.reference.selectable_matters().get(code)
        if matter is None:
            raise NotFound(f"没有该救助事项或已停用：{code}")
        kind = self.reference.assistance_types().get(matter["assistance_type"], {})
        return {**matter, "department_name": self.reference.department_name(matter["department"]),
                "assistance_type_name": kind.get("zh", matter["assistance_type"])}

    def linkage_process(self) -> dict[str, Any] | None:
        """救助流程: the newest deployed version of the linkage process — its XML, and its user tasks in the
        diagram's order with name, documentation and due working days; None when none is deployed."""
        with self.workflows.reading() as session:
            definition = latest_definition(session, LINKAGE_PROCESS, required=False)
            if definition is None:
                return None
            loaded = self.workflows.specs.get(definition)
            xml, version = definition.xml, definition.version
        documented = user_task_documentation(loaded.model.tree, loaded.key)
        steps = [{"id": task.id, "name": task.name, "documentation": documented.get(task.id, ""),
                  "due_workdays": task.due_workdays} for task in loaded.model.user_tasks.values()]
        return {"key": loaded.key, "name": loaded.model.name, "version": version, "xml": xml, "steps": steps}

    def service_windows(self) -> dict[str, Any]:
        """办事大厅: the organisations that keep a window and are not 停用 — the county's (the center), each
        township with its villages, and villages whose township is not on record — by code, each with its name,
        address, opening hours, phone, the phone's tel: link ('' for what is not published) and the matters it
        takes (those not 停用); `published` says whether any window has any detail."""
        query = (select(ORGS.c.code, ORGS.c.name, ORGS.c.kind, ORGS.c.parent_code, *(ORGS.c[f] for f in WINDOW_FIELDS))
                 .where(ORGS.c.kind.in_(sorted(WINDOW_LEVELS)), ORGS.c.active.is_(True)).order_by(ORGS.c.code))
        with self.workflows.reading() as session:
            rows = session.connection().execute(query).mappings().all()
            matters = window_matters(session.connection(), [r["code"] for r in rows], shown_only=True)
        windows = {r["code"]: {"code": r["code"], "name": r["name"], **{f: r[f] for f in WINDOW_FIELDS},
                               "tel": tel_uri(r["phone"]), "matters": matters.get(r["code"], [])} for r in rows}
        townships = {r["code"]: {**windows[r["code"]], "villages": []} for r in rows if r["kind"] == "township"}
        unplaced: list[dict[str, str]] = []
        for row in rows:
            if row["kind"] == "village":
                township = townships.get(row["parent_code"] or "")
                (township["villages"] if township else unplaced).append(windows[row["code"]])
        return {"county": [windows[r["code"]] for r in rows if r["kind"] == "center"],
                "townships": list(townships.values()), "unplaced": unplaced,
                "published": any(w[f] for w in windows.values() for f in WINDOW_FIELDS)}


def user_task_documentation(tree: etree._ElementTree, key: str) -> dict[str, str]:
    """Each user task's documentation text in process `key` of `tree` (subprocesses included), by id."""
    process = next((p for p in elements.processes(tree) if p.get("id") == key), None)
    if process is None:
        return {}
    return {task.get("id", ""): elements.documentation(task) for task in process.iter(f"{{{BPMN_NS}}}userTask")}
