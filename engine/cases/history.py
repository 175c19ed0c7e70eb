"""A case's history as people read it (全流程跟踪, R-6.1.2.2): each event with a label, who, and one line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from engine import clock, status
from engine.bpmn.forms import FormLibrary
from engine.cases import labels, store
from engine.catalog.records import VERDICTS
from engine.i18n import _l
from engine.notify.notices import Notices
from engine.reference import ReferenceData

EVENT_LABELS = {
    "case_started": _l("登记受理"),
    "task_created": _l("生成待办"),
    "task_claimed": _l("认领"),
    "task_released": _l("退回组内"),
    "task_assigned": _l("指派"),
    "task_completed": _l("办理完成"),
    "task_cancelled": _l("任务取消"),
    "decision": _l("作出决定"),
    "notice": _l("告知申请人"),
    "timer_fired": _l("超期督办"),
    "task_overdue": _l("超期"),
    "task_due_soon": _l("临期提醒"),
    "case_closed": _l("案件结束"),
    "hotline_result_queued": _l("12345回单"),
    "hotline_order_repeated": _l("12345重复推送"),
    "case_suspended": _l("挂起"),
    "case_resumed": _l("恢复"),
    "case_terminated": _l("终止"),
    "case_migrated": _l("迁移流程版本"),
    "task_error": _l("环节出错"),
    "task_retried": _l("重试出错环节"),
    "supplement_received": _l("收到补正材料"),
    "notice_published": _l("救助公示"),
    "notice_objection": _l("公示异议"),
    "objection_reviewed": _l("异议核查结论"),
    "notice_withdrawn": _l("撤回公示"),
    "rated": _l("好差评"),
    "feedback_verified": _l("差评回访核实"),
    "feedback_rectified": _l("差评整改"),
    "feedback_closed": _l("差评核销"),
    "case_archived": _l("电子归档"),
    "archive_requested": _l("申请重新归档"),
    "complaint_filed": _l("收到投诉"),
    "complaint_answered": _l("投诉已答复"),
    "complaint_assigned": _l("分派承办单位"),
    "complaint_replied": _l("答复投诉人"),
}
# How a complaint's reply reached the complainant (engine.feedback.complaint_steps).
REPLIED_VIA = {"hotline": _l("已推送 12345"), "sms": _l("已短信告知"),
               "portal": _l("匿名投诉，凭编号和查询码在网上查看")}
_REASONED = ("case_suspended", "case_resumed", "case_terminated", "task_retried")


class CaseHistory:
    """Turns the event log of a case into lines with Chinese labels and names."""

    def __init__(self, reference: ReferenceData, forms: FormLibrary):
        self.reference, self.forms = reference, forms
        self.notices = Notices(reference)

    def entries(self, session: Session, case_no: str, tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The case's event log in order, with labels, actor names and a one-line detail."""
        form_keys = {t["id"]: t["form_key"] for t in tasks}
        events = store.events_of_case(session.connection(), case_no)
        groups = labels.group_labels(session, self.reference, sorted(
            {g for e in events for g in (e.data or {}).get("candidate_groups", [])} |
            {str(e.data["handler"]) for e in events if (e.data or {}).get("handler")}))
        names = labels.actor_names(session, {e.actor for e in events} | {
            (e.data or {}).get(k) for e in events for k in ("assignee", "previous")})
        return [{"type": e.type, "label": EVENT_LABELS.get(e.type, e.type), "at": e.at, "task_name": e.task_name,
                 "task_id": e.task_id, "actor": e.actor, "actor_name": names.get(e.actor, e.actor),
                 "detail": self._detail(e, form_keys, groups, names)} for e in events]

    def value_text(self, form_key: str, field: str, value: Any) -> str:
        """A submitted value as people read it: names from the catalogs, enum labels, lists joined with 、,
        a material verdict as 材料：结论（问题或理由）."""
        if isinstance(value, Mapping) and "verdict" in value:
            verdict = VERDICTS.get(str(value["verdict"]), str(value["verdict"]))
            why = value.get("problem") or value.get("reason")
            return f"{value.get('material', '')}：{verdict}" + (f"（{why}）" if why else "")
        if isinstance(value, list) and any(isinstance(v, Mapping) and "verdict" in v for v in value):
            return "；".join(self.value_text(form_key, field, v) for v in value)
        if isinstance(value, list):
            return "、".join(self.value_text(form_key, field, v) for v in value)
        if isinstance(value, bool):
            return "是" if value else "否"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        catalog = self.forms.catalog_of(form_key, field)
        if catalog == "departments" or field in ("departments", "department") or (
                isinstance(value, str) and value in self.reference.departments()):
            return self.reference.department_name(str(value))
        if catalog == "matters":
            return self.reference.matter_name(str(value))
        return self.forms.enum_label(form_key, field, value)

    def _decision(self, form_key: str, data: Mapping[str, Any]) -> str:
        return "；".join(f"{self.forms.field_title(form_key, field)}：{self.value_text(form_key, field, value)}"
                        for field, value in data.items())

    def _detail(self, event: Any, form_keys: Mapping[str, str], groups: Mapping[str, str],
                names: Mapping[str, str]) -> str:
        data: Mapping[str, Any] = event.data or {}
        kind = event.type
        if kind == "case_started" and data.get("process"):  # a process started by key, not an application
            linked = f"，关联案件 {data['relief_case_no']}" if data.get("relief_case_no") else ""
            return f"流程 {data['process']}，版本 v{data.get('definition_version')}{linked}"
        if kind == "case_started":
            text = f"{labels.channel_label(data.get('channel'))}·{labels.level_label(data.get('level'))}，" \
                   f"流程版本 v{data.get('definition_version')}"
            return text + ("，绿色通道" if data.get("green_channel") else "")
        if kind == "task_created":
            due = clock.local_text(data.get("due_at"))
            who = "、".join(groups.get(g, g) for g in data.get("candidate_groups", []))
            return f"候选：{who}" + (f"；办理时限 {due}" if due else "")
        if kind == "task_assigned":
            assignee = names.get(str(data.get("assignee")), data.get("assignee"))
            return f"指派给 {assignee}" + (f"；原因：{data['reason']}" if data.get("reason") else "")
        if kind == "task_released" and data.get("previous"):
            return f"原办理人 {names.get(str(data['previous']), data['previous'])}"
        if kind == "decision":
            return self._decision(form_keys.get(event.task_id or "", ""), data)
        if kind == "notice":
            return self.notices.text(str(data.get("kind")), {k: v for k, v in data.items() if k != "kind"})
        if kind == "timer_fired":
            department = self.reference.department_name(data.get("department"))
            return f"{data.get('name') or ''}{'：' + department if department else ''}"
        if kind in ("task_overdue", "task_due_soon"):
            return f"办理时限 {clock.local_text(data.get('due_at'))}"
        if kind == "case_closed":
            return status.label(str(data.get("status")))
        if kind in ("hotline_result_queued", "hotline_order_repeated"):
            return f"工单 {data.get('order_no')}"
        if kind == "task_error":
            return str(data.get("message") or "")
        if kind == "case_migrated":
            return f"v{data.get('from')} → v{data.get('to')}；原因：{data.get('reason') or ''}"
        if kind in _REASONED:
            return f"原因：{data.get('reason') or ''}"
        if kind == "supplement_received":
            via = "网上" if data.get("channel") == "online" else "窗口"
            return f"{via}补正：{'、'.join(map(str, data.get('files') or []))}" + (
                f"；说明：{data['note']}" if data.get("note") else "")
        if kind == "notice_published":
            matter = self.reference.matter_name(str(data.get("matter")))
            return f"{matter}，公示至 {clock.local_text(data.get('ends_at'))}"
        if kind == "notice_objection":
            return f"{data.get('text', '')}（核查案件 {data.get('review_case_no', '')}）"
        if kind == "objection_reviewed":
            finding = self.forms.enum_label("objection_review", "finding", data.get("finding"))
            return f"{finding}；{data.get('note', '')}"
        if kind == "notice_withdrawn":
            return f"原因：{data.get('reason') or ''}"
        if kind == "rated":
            level, channel = self.reference.rating_level_name(data.get("level")), status.rating_channel_label(
                data.get("channel"))
            text = f"{'追评' if data.get('follow_up') else '评价'}：{level}（{channel}）"
            if data.get("rectification_case_no"):
                text += f"；差评整改 {data['rectification_case_no']}"
            return text
        if kind == "feedback_verified":
            callback = self.forms.enum_label("feedback_callback", "callback_result", data.get("callback"))
            finding = self.forms.enum_label("feedback_verify", "finding", data.get("finding"))
            return f"{callback}：{data.get('callback_note', '')}；{finding}：{data.get('facts', '')}"
        if kind == "feedback_rectified":
            return str(data.get("measures") or "")
        if kind == "feedback_closed":
            return f"差评不实，核销理由：{data.get('reason') or ''}"
        if kind == "case_archived":
            return f"档号 {data.get('archive_no')}，第 {data.get('version')} 版"
        if kind == "archive_requested":
            return f"第 {data.get('version')} 版；原因：{data.get('reason') or ''}"
        return self._complaint_detail(kind, data, groups)

    def _complaint_detail(self, kind: str, data: Mapping[str, Any], groups: Mapping[str, str]) -> str:
        """投诉反馈 (R-6.3.6): on the case a complaint names, and on the complaint's own case."""
        if kind == "complaint_filed":
            kind_name = self.reference.complaint_type_name(str(data.get("complaint_type")))
            return f"投诉 {data.get('from_case', '')}（{kind_name}）"
        if kind == "complaint_answered":
            finding = self.forms.enum_label("complaint_handle", "finding", data.get("finding"))
            return f"投诉 {data.get('from_case', '')} 已答复：{finding}"
        if kind == "complaint_assigned":
            return f"承办单位：{groups.get(str(data.get('handler')), data.get('handler'))}"
        if kind == "complaint_replied":
            return f"{REPLIED_VIA.get(str(data.get('via')), '')}：{data.get('reply', '')}"
        return ""
