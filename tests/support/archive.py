"""Cases walked to their end with materials and 材料审查 verdicts, and reading what was archived."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from engine import clock
from engine.cases.materials import Upload
from engine.deadlines.jobs import tick
from tests.support.cases import accept, applicant, open_task

PDF = b"%PDF-1.4\n% a scanned application\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
CODE = "ABCD2345"
PROOF = "致困原因证明（医疗票据、事故证明等）"
ASKED = [{"matter": "linshi", "material": "申请书", "verdict": "ok"},
         {"matter": "linshi", "material": PROOF, "verdict": "supplement", "problem": "缺少住院费用票据"}]
PASSED = [{"matter": "linshi", "material": "申请书", "verdict": "ok"},
          {"matter": "linshi", "material": PROOF, "verdict": "ok"}]


def reviewed_case(engine: Any) -> str:
    """An online 临时救助 application with a PDF, a 需补正 verdict answered by an uploaded PNG, then 合格 and
    walked through 民政局 to 办结; return its number."""
    case_no, _ = engine.start_case(applicant(matters=["linshi"]), "online", "county", query_code=CODE,
                                   actor="applicant", consent=True, uploads=[Upload("申请书.pdf", PDF)])
    triage = {"decision": "eligible", "departments": ["minzheng"], "matters": ["linshi"]}
    engine.complete_task(open_task(engine, case_no, "triage"), "center1", {**triage, "material_review": ASKED})
    engine.supplements.submit_online(case_no, CODE, [Upload("住院票据.png", PNG)])
    engine.complete_task(open_task(engine, case_no, "triage"), "center1", {**triage, "material_review": PASSED})
    engine.complete_task(open_task(engine, case_no, "dept_accept"), "mz1", accept())
    engine.complete_task(open_task(engine, case_no, "dept_result"), "mz1",
                         {"outcome": "approved", "content": "临时救助金 2000 元", "amount": 2000})
    engine.complete_task(open_task(engine, case_no, "summary"), "center1", {"summary": "已发放临时救助金"})
    return str(case_no)


def build(engine: Any, minutes: float = 0) -> dict[str, Any]:
    """One deadline tick `minutes` from now (it builds the due archives); its report."""
    from datetime import timedelta

    return dict(tick(engine, clock.now() + timedelta(minutes=minutes)))


def folder(engine: Any, case_no: str, version: int = 1) -> Path:
    """Where an archived version of a case lies."""
    [found] = [v for v in engine.archives.show(case_no)["versions"] if v["version"] == version]
    return Path(engine.settings.archive_dir) / found["path"]


def pdf_text(path: Path) -> str:
    """The text of every page of a PDF as a reader would copy it, without its spacing and line breaks (the cover's
    title is letter-spaced, long cells wrap)."""
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages)
    return "".join(text.split())
