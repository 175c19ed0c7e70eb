"""What an ended case's file (案卷) holds, read as the case page reads it: the application with its personal
data masked (R-6.4.3), every completed step with its decision or result, who and when, the 材料审查
verdicts (R-6.1.3.2), the materials, and the full history (全流程跟踪)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from engine import status
from engine.access.personal_data import mask_data
from engine.cases import labels, store
from engine.cases.casefile import CaseFiles, tasks_of_case
from engine.catalog.records import VERDICTS
from engine.status import COMPLETED


def material_name(number: int, filename: str) -> str:
    """Where a material is kept inside the package: numbered, so two files of one name stay apart."""
    return f"{number:02d}-{filename}"


def _steps(files: CaseFiles, session: Session, tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    done = sorted((t for t in tasks if t["state"] == COMPLETED), key=lambda t: (t["completed_at"], t["id"]))
    people = labels.actor_names(session, [t["completed_by"] for t in done])
    steps = []
    for task in done:
        data = mask_data(dict(task["data"] or {}))
        field = files.forms.review_field(task["form_key"])
        review = [_verdict(files, v) for v in (data.pop(field, None) or []) if isinstance(v, Mapping)] if field else []
        department = (task["context"] or {}).get("department")
        steps.append({"name": task["name"], "department_name": files.reference.department_name(department),
                      "by": people.get(task["completed_by"] or "", task["completed_by"]),
                      "at": task["completed_at"], "rows": files.rows(task["form_key"], data), "review": review})
    return steps


def _verdict(files: CaseFiles, verdict: Mapping[str, Any]) -> dict[str, str]:
    code = str(verdict.get("verdict", ""))
    matter = str(verdict.get("matter") or "")
    return {"matter": files.reference.matter_name(matter) if matter else "",
            "material": str(verdict.get("material", "")), "verdict": code, "verdict_label": VERDICTS.get(code, code),
            "note": str(verdict.get("problem") or verdict.get("reason") or "")}


def case_dossier(files: CaseFiles, session: Session, case_no: str) -> dict[str, Any]:
    """The case's file as the PDF shows it (personal data masked)."""
    conn = session.connection()
    instance = store.find_instance(conn, case_no)
    if instance is None:
        raise ValueError(f"no case {case_no}")
    tasks = tasks_of_case(session, case_no)
    case = files.glance(session, case_no)
    materials = [{**a, "number": n, "stored_as": material_name(n, a["filename"])}
                 for n, a in enumerate(case["attachments"], start=1)]
    return {
        "case": case, "materials": materials, "steps": _steps(files, session, tasks),
        "status": {"code": instance.status, "label": status.label(instance.status), "started_at": instance.started_at,
                   "ended_at": instance.ended_at,
                   "definition_version": store.definition_version(conn, instance.definition_id)},
        "history": files.history.entries(session, case_no, tasks),
        "matter_codes": _matter_codes(case, tasks),
    }


def _matter_codes(case: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The case's matters: those applied for, then those its steps decided on, each once."""
    found = [str(m["code"]) for m in case["matters"]]
    for task in tasks:
        decided = (task["data"] or {}).get("matters") if task["state"] == COMPLETED else None
        found += [m for m in decided or [] if isinstance(m, str)]
    return list(dict.fromkeys(found))
