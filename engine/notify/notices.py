"""Wording of the notices the flow sends to applicants (R-5.2, R-5.4, R-5.6) and complainants (R-6.3.6), and of
the 12345 回单."""

from __future__ import annotations

from typing import Any

from engine.reference import ReferenceData
from engine.status import CLOSED_DECLINED

_OUTCOMES = {"approved": "予以救助", "denied": "不予救助", "referred": "已转介"}


RATING_INVITED = ("completed", "rectified")  # notices that invite the applicant's 好差评


class Notices:
    """Notice texts; department names come from the reference data."""

    def __init__(self, reference: ReferenceData, portal_url: str = ""):
        self.reference, self.portal_url = reference, portal_url

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

    @staticmethod
    def _items(items: Any) -> str:
        lines = [f"{n}. {i.get('material', '')}：{i.get('problem', '')}"
                 for n, i in enumerate((i for i in items or [] if isinstance(i, dict)), start=1)]
        return "；".join(lines)

    def for_case(self, case_no: str, kind: str, details: dict[str, Any], invite: bool = True) -> str:
        """The notice as the applicant receives it: headed by the case number, which with the query code
        lets them follow the case online (进度查询)."""
        text = f"【社会救助 {case_no}】{self.text(kind, details)}"
        if invite and kind in RATING_INVITED and self.portal_url:  # 好差评: the closing SMS links the rating page
            text += f"评价：{self.portal_url}/portal/rate?case={case_no}"
        return text

    def text(self, kind: str, details: dict[str, Any]) -> str:
        """Return the Chinese text of a notice of `kind` with `details`."""
        # 补正 asked by the center at triage, or by a department at 受理告知 (details carry its code)
        reviewer = self.reference.department_name(details.get("department")) or "县社会救助中心"
        if kind == "supplement":
            return (f"经{reviewer}审查，您的申请材料需要补正（一次性告知）：{self._items(details.get('items'))}。"
                    "请在补正期限内通过网上“进度查询”上传，或携带材料到任一社会救助受理窗口补正。")
        if kind == "supplement_overdue":
            return (f"您的申请材料补正期限已到，尚未收到以下材料：{self._items(details.get('items'))}。"
                    f"{reviewer}将决定后续处理，如已准备好请尽快提交。")
        if kind == "supplement_refused":
            if details.get("department"):
                return (f"您未在补正期限内补齐{reviewer}要求的材料，{reviewer}不予受理。"
                        f"理由：{details.get('reason', '')}")
            return f"您未在补正期限内补齐申请材料，申请不予受理。理由：{details.get('reason', '')}"
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
            return (f"您的救助申请已办结。{self._results(details.get('results'))}"
                    "欢迎在网上“好差评”（案件编号+查询码）评价本次服务。")
        if kind == "rectified":
            return (f"您对本次服务的评价已收到，经核实已整改：{details.get('measures', '')}。"
                    "欢迎在网上“好差评”再评价一次（追评）。")
        if kind == "complaint_reply":
            return f"您反映的问题已办理，答复如下：{details.get('reply', '')}。如有疑问，可拨打监督投诉电话。"
        return f"案件进展通知（{kind}）"

    def hotline_result(self, case_no: str, case_status: str, data: dict[str, Any]) -> str:
        """The 回单 text returned to 12345 when a case from the hotline closes (with the case number)."""
        if case_status == CLOSED_DECLINED:
            kind = {"ineligible": "refused"}.get(str(data.get("decision")), "declined")
            if data.get("overdue_decision") == "refuse":
                kind = "supplement_refused"
            return self.for_case(case_no, kind, {"reason": data.get("reason", "")}, invite=False)
        return self.for_case(case_no, "completed", {"results": data.get("dept_results")}, invite=False)
