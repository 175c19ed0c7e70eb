"""What an online applicant may see of their case (进度查询, R-6.2.1), and their query code."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

from sqlalchemy import Connection, select

from engine import clock, status, tables
from engine.cases import store
from engine.cases.intake import query_code_hash
from engine.reference import ReferenceData
from engine.tables import APPLICATION


def requested_items(conn: Connection, reference: ReferenceData, case_no: str,
                    since: Any = None) -> list[dict[str, Any]]:
    """What the applicant is asked to supplement: the items of every 补正 notice since the case began to
    wait (`since`, process_instance.supplement_since; 一次性告知 by the center at triage or by each
    department at 受理告知, which may ask at the same time), else of the latest notice."""
    rows = conn.execute(select(tables.NOTICE.c.details, tables.NOTICE.c.created_at).where(
        tables.NOTICE.c.case_no == case_no, tables.NOTICE.c.recipient == "applicant",
        tables.NOTICE.c.kind == "supplement").order_by(tables.NOTICE.c.id)).all()
    asked = [r for r in rows if since is not None and clock.aware(r.created_at) >= clock.aware(since)] or rows[-1:]
    found = []
    for row in asked:
        department = str((row.details or {}).get("department") or "")
        found += [{"material": i.get("material", ""), "matter": i.get("matter", ""), "problem": i.get("problem", ""),
                   "department": department, "department_name": reference.department_name(department)}
                  for i in (row.details or {}).get("items") or [] if isinstance(i, dict)]
    return found


# No 0/O, 1/I/L: the code is read off a screen or paper and typed back in.
QUERY_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
QUERY_CODE_LENGTH = 8


def new_query_code() -> str:
    """A random query code of 8 unambiguous characters."""
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _i in range(QUERY_CODE_LENGTH))


def normalize_query_code(code: str) -> str:
    """The code as typed, without spaces or hyphens, in upper case."""
    return re.sub(r"[\s\-]", "", code).upper()[:32]


def code_matches(conn: Connection, case_no: str, code: str) -> bool:
    """True when `code` is the case's query code (the same cost whether the case exists or not)."""
    stored = conn.execute(select(APPLICATION.c.query_code_hash)
                          .where(APPLICATION.c.case_no == case_no)).scalar_one_or_none()
    return hash_matches(stored, case_no, code)


def hash_matches(stored: str | None, case_no: str, code: str) -> bool:
    """True when `code` is the query code whose hash for `case_no` is `stored` (an application's or a
    complaint's); compared even when nothing is stored, so an unknown number costs the same."""
    given = query_code_hash(case_no, code)
    return hmac.compare_digest(stored or "", given) and bool(stored and code)


def _step_names(conn: Connection, reference: ReferenceData, case_no: str) -> list[str]:
    names: list[str] = []
    for row in store.open_tasks(conn, case_no=case_no):
        label = reference.department_name((row["context"] or {}).get("department"))
        names.append(f"{row['name']}（{label}）" if label else row["name"])
    return list(dict.fromkeys(names))


def applicant_progress(conn: Connection, reference: ReferenceData, case_no: str, code: str) -> dict[str, Any] | None:
    """What an applicant may see of their case with the right query code, else None."""
    if not code_matches(conn, case_no, code):
        return None
    instance = store.find_instance(conn, case_no)
    if instance is None:
        return None
    notices = conn.execute(select(tables.NOTICE.c.content, tables.NOTICE.c.created_at).where(
        tables.NOTICE.c.case_no == case_no, tables.NOTICE.c.recipient == "applicant")
        .order_by(tables.NOTICE.c.created_at, tables.NOTICE.c.id))
    awaiting = instance.awaiting_supplement
    return {
        "case_no": case_no,
        "status": status.SUPPLEMENT_LABEL if awaiting else status.public_label(instance.status,
                                                                                store.case_worked(conn, case_no)),
        "steps": _step_names(conn, reference, case_no) if instance.status == status.OPEN else [],
        "rateable": instance.status in status.END_STATUSES,  # 好差评 once the case has ended
        "notices": [{"text": n.content, "at": clock.local_text(n.created_at)} for n in notices],
        # 待补正: what to supplement, as the one-time notice listed it (the page offers the upload)
        "supplement": {"since": clock.local_text(instance.supplement_since),
                       "items": requested_items(conn, reference, case_no, instance.supplement_since)}
        if awaiting else None,
    }
