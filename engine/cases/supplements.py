"""补正 (R-6.2.2): the applicant's supplement to a case that waits for one.

The reviewer's 需补正 verdicts make the flow tell the applicant everything to supplement at once
(一次性告知) and wait at a receive task for the message `supplement_received`. The supplement
arrives here, from the portal (case number and query code) or from any window, where a clerk
attaches what the applicant brought: the files are stored with the case like the application's
materials, the message is delivered with them, and the reviewer's task comes back with the new
files marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine import clock, tables
from engine.access import scoping
from engine.access.accounts import Principal, audit
from engine.bpmn.messages import SUPPLEMENT_RECEIVED, deliver, waiting_for
from engine.cases import materials, store
from engine.cases.intake import refuse
from engine.cases.progress import code_matches
from engine.cases.tasks import record, task_summary
from engine.cases.workflows import Workflows
from engine.errors import NotFound, TaskConflict

ONLINE, WINDOW = "online", "window"
MAX_NOTE = 500
WRONG_CODE = "案件编号或查询码不正确"


class Supplements:
    """Taking the applicant's supplement (`CaseEngine.supplements`)."""

    def __init__(self, workflows: Workflows):
        self.workflows = workflows

    def submit_online(self, case_no: str, query_code: str, uploads: Sequence[materials.Upload],
                      note: str = "") -> dict[str, Any]:
        """The applicant's upload on the portal's progress page; NotFound for a wrong number or code."""
        return self._submit(case_no, uploads, "applicant", ONLINE, note, query_code=query_code)

    def attach_at_window(self, principal: Principal, case_no: str, uploads: Sequence[materials.Upload],
                         note: str = "") -> dict[str, Any]:
        """What the applicant brought to a window, attached by its clerk (any window: R-6.2.2), audited."""
        scoping.require(principal, "attach_supplement")
        return self._submit(case_no, uploads, principal.username, WINDOW, note, principal=principal)

    def _submit(self, case_no: str, uploads: Sequence[materials.Upload], actor: str, channel: str, note: str,
                query_code: str | None = None, principal: Principal | None = None) -> dict[str, Any]:
        now = clock.now()
        note = note.strip()[:MAX_NOTE]
        with self.workflows.transaction() as session:
            conn = session.connection()
            if query_code is not None and not code_matches(conn, case_no, query_code):
                raise NotFound(WRONG_CODE)
            found = store.find_instance(conn, case_no)
            if found is None:
                raise NotFound(WRONG_CODE if query_code is not None else f"案件不存在：{case_no}")
            files, errors = materials.check(uploads)
            if not uploads:
                errors = {"files": ["请选择要上传的补正材料"]}
            if errors:
                raise refuse(errors)
            instance = self.workflows.lock_instance(session, found.id)
            if not instance.awaiting_supplement:
                raise TaskConflict("该案件目前不需要补正材料")
            loaded = self.workflows.specs.get_by_id(session, instance.definition_id)
            workflow = self.workflows.load(instance, loaded)
            if not waiting_for(workflow, SUPPLEMENT_RECEIVED):
                raise TaskConflict("该案件目前不需要补正材料")
            materials.save_files(self.workflows.settings.upload_dir, files)
            store.insert_rows(conn, tables.ATTACHMENT, [
                {**m.record(), "case_no": case_no, "uploaded_by": actor, "uploaded_at": now} for m in files])
            given = [{"filename": m.filename, "sha256": m.sha256} for m in files]
            deliver(workflow, SUPPLEMENT_RECEIVED, {"supplement": {
                "channel": channel, "by": actor, "at": now.isoformat(), "files": given, "note": note}})
            record(session, case_no, "supplement_received", actor, now,
                   data={"channel": channel, "files": [m.filename for m in files], "note": note})
            if principal is not None:
                audit(session, actor, "supplement_attached", now, case_no, files=len(files), org=principal.org_code)
            open_rows = self.workflows.advance(session, instance, loaded, workflow, actor, now)
            return {"case_no": case_no, "files": len(files), "open_tasks": [task_summary(r, now) for r in open_rows]}
