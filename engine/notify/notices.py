"""Wording of the notices the flow sends to applicants (R-5.2, R-5.4, R-5.6) and of the 12345 回单."""

from __future__ import annotations

from typing import Any

from engine.reference import ReferenceData
from engine.status import CLOSED_DECLINED

_OUTCOMES = {"approved": "予以救助", "denied": "不予救助", "referred": "已转介"}


class Notices:
    """Notice texts; department names come from the reference data."""

    def __init__(self, reference: ReferenceData):
        self.reference = reference

    def _results(self, results: Any) -> str:
        parts = []
        for result in results or []:
            if not isinstance(result, dict):
                continue
            outcome = _OUTCOMES.get(str(result.get("outcome")), result.get("outcome"))
            line = f"{self.reference.department_name(result.get('department'))}：{outcome}"
            if result.get("amount"):
                line += f"（金额 {result['amount']} 元）"
            parts.append(line)
        return "；".join(parts)

    def text(self, kind: str, details: dict[str, Any]) -> str:
        """Return the Chinese text of a notice of `kind` with `details`."""
        if kind == "received":
            return "您的救助申请已受理登记，县社会救助中心将尽快研判并告知结果。"
        if kind == "refused":
            return f"经初步研判，您的申请不符合救助条件。理由：{details.get('reason', '')}"
        if kind == "declined":
            return f"经社会救助联席会议研究，您的申请不予救助。理由：{details.get('reason', '')}"
        if kind == "dispatched":
            return f"您的申请已派至{self.reference.department_names(details.get('departments'))}办理。"
        if kind == "accepted":
            materials = details.get("materials")
            materials_text = "、".join(materials) if isinstance(materials, list) else str(materials or "")
            return (f"{self.reference.department_name(details.get('department'))}已受理您的申请，请携带{materials_text}"
                    f"前往{details.get('location', '')}办理。")
        if kind == "completed":
            return f"您的救助申请已办结。{self._results(details.get('results'))}"
        return f"案件进展通知（{kind}）"

    def hotline_result(self, case_status: str, data: dict[str, Any]) -> str:
        """The 回单 text returned to 12345 when a case from the hotline closes."""
        if case_status == CLOSED_DECLINED:
            kind = "refused" if data.get("decision") == "ineligible" else "declined"
            return self.text(kind, {"reason": data.get("reason", "")})
        return self.text("completed", {"results": data.get("dept_results")})
