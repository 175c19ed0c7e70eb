"""The API's OpenAPI 3.1 description, served at /api/v1/openapi.json (public: it holds no data)."""

from __future__ import annotations

import copy
from typing import Any

from flask import Response, jsonify

from engine.cases.case_query import status_choices
from engine.cases.casefile import MAX_REASON_LENGTH
from engine.cases.channels import CHANNELS, LEVELS
from engine.cases.export import FORMATS as EXPORT_FORMATS
from engine.cases.hotline import STATUS_LABELS, WORK_ORDER_SCHEMA
from engine.cases.inbox import MAX_DEPTH, SORTS
from engine.cases.intake import MAX_LENGTHS
from engine.paging import MAX_PER_PAGE
from engine.status import CASE_STATUSES as STATUS_VOCABULARY
from web.api.base import bp
from web.api.cases import APPLICATION_CHANNELS

# The case statuses of `engine.status`, the one vocabulary (an errored or terminated case included).
CASE_STATUSES = list(STATUS_VOCABULARY)

STRING_LIST = {"type": "array", "items": {"type": "string"}}
TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error", "message", "errors"],
        "properties": {
            "error": {"type": "string", "description": "机器可读的错误代码", "examples": ["invalid"]},
            "message": {"type": "string", "description": "中文说明"},
            "errors": {"type": "object", "additionalProperties": STRING_LIST, "description": "字段 → 错误提示"},
        },
    },
    "Task": {
        "type": "object",
        "required": ["id", "case_no", "name", "form_key", "candidate_groups", "assignee", "created_at", "due_at",
                     "overdue"],
        "properties": {
            "id": {"type": "string", "format": "uuid"}, "case_no": {"type": "string"},
            "name": {"type": "string", "description": "环节名称"},
            "form_key": {"type": "string", "description": "表单（forms/<key>.json）"},
            "candidate_groups": STRING_LIST, "assignee": {"type": ["string", "null"]},
            "created_at": TIME, "due_at": {"type": ["string", "null"], "format": "date-time"},
            "overdue": {"type": "boolean"},
        },
    },
    "TaskPage": {
        "type": "object", "required": ["items", "total", "total_capped", "page", "per_page", "next_cursor"],
        "properties": {"items": {"type": "array", "items": _ref("Task")},
                       "total": {"type": "integer", "description": "共计多少项；total_capped 时为下限（如 1000+）"},
                       "total_capped": {"type": "boolean", "description": "超过计数上限，total 只是下限"},
                       "page": {"type": "integer"}, "per_page": {"type": "integer"},
                       "next_cursor": {"type": ["string", "null"],
                                       "description": "下一页的位置：作为 after 参数传回；null 表示已是最后一页"}},
    },
    "CompleteTask": {
        "type": "object", "required": ["data"],
        "properties": {"data": {"type": "object", "description": "表单数据，按该环节的表单（form_key）校验"}},
        "examples": [{"data": {"decision": "eligible", "departments": ["minzheng"]}}],
    },
    "OpenTasks": {
        "type": "object", "required": ["open_tasks"],
        "properties": {"open_tasks": {"type": "array", "items": _ref("Task"),
                                      "description": "办理后该案件仍待办、且调用者可见的任务"}},
    },
    "Region": {
        "type": "object", "required": ["township"],
        "properties": {"township": {"type": "string", "description": "乡镇(街道)代码或名称"},
                       "village": {"type": ["string", "null"], "description": "村(社区)代码或名称"}},
    },
    "Application": {
        "type": "object", "required": ["name", "id_number", "phone", "region", "request"],
        "properties": {
            "name": {"type": "string", "maxLength": MAX_LENGTHS["name"], "description": "申请人姓名"},
            "id_number": {"type": "string", "description": "身份证号码（18位，GB 11643 校验位）"},
            "phone": {"type": "string", "maxLength": MAX_LENGTHS["phone"]}, "region": _ref("Region"),
            "address": {"type": "string", "maxLength": MAX_LENGTHS["address"]},
            "request": {"type": "string", "maxLength": MAX_LENGTHS["request"], "description": "救助诉求"},
            "matters": {**STRING_LIST, "description": "事项清单代码"},
            "channel": {"type": "string", "enum": list(APPLICATION_CHANNELS), "default": "window"},
            "green_channel": {"type": "boolean", "default": False, "description": "绿色通道"},
        },
    },
    "ApplicationCreated": {
        "type": "object", "required": ["case_no", "instance_id"],
        "properties": {"case_no": {"type": "string"}, "instance_id": {"type": "integer"}},
    },
    "MaskedApplicant": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "examples": ["张*"]}, "id_number": {"type": "string"},
            "phone": {"type": "string", "examples": ["138****8000"]}, "address": {"type": ["string", "null"]},
            "region": {"type": "object"}, "request": {"type": "string"},
            "channel": {"type": "string", "enum": list(CHANNELS)}, "level": {"type": "string"},
            "green_channel": {"type": "boolean"}, "matters": STRING_LIST, "registered_at": TIME,
        },
    },
    "Case": {
        "type": "object", "required": ["case_no", "status", "definition_version", "open_tasks", "history", "applicant"],
        "properties": {
            "case_no": {"type": "string"},
            "status": {"type": "string", "enum": CASE_STATUSES},
            "definition_version": {"type": "integer"},
            "open_tasks": {"type": "array", "items": _ref("Task")},
            "history": {"type": "array", "items": {"type": "object", "properties": {
                "type": {"type": "string"}, "task": {"type": ["string", "null"]},
                "task_id": {"type": ["string", "null"]}, "actor": {"type": "string"}, "at": TIME,
                "data": {"type": "object"}}}},
            "applicant": _ref("MaskedApplicant"),
            "hotline_order_no": {"type": ["string", "null"], "description": "来自 12345 时的工单编号"},
            "supplement": {"type": ["object", "null"],
                           "description": "待补正（R-6.2.2）：等待申请人补正材料的开始时间和需补正的材料，否则为 null",
                           "properties": {"since": TIME, "items": {"type": "array", "items": {
                               "type": "object", "properties": {"matter": {"type": "string"},
                                                                "material": {"type": "string"},
                                                                "problem": {"type": "string"}}}}}},
        },
    },
    "CaseListItem": {
        "type": "object",
        "required": ["case_no", "channel", "level", "township", "applicant", "request", "green_channel", "status",
                     "registered_at"],
        "properties": {
            "case_no": {"type": "string"}, "channel": {"type": "string", "enum": list(CHANNELS)},
            "channel_label": {"type": "string"}, "level": {"type": "string", "enum": list(LEVELS)},
            "township": {"type": "string", "description": "乡镇(街道)代码"},
            "village": {"type": ["string", "null"], "description": "村(社区)代码"},
            "place": {"type": "string", "description": "乡镇与村的名称"},
            "applicant": {"type": "string", "description": "申请人姓名（脱敏）", "examples": ["张*"]},
            "request": {"type": "string", "description": "救助诉求"}, "green_channel": {"type": "boolean"},
            "status": {"type": "string", "enum": CASE_STATUSES}, "status_label": {"type": "string"},
            "registered_at": TIME,
        },
    },
    "CasePage": {
        "type": "object", "required": ["items", "total", "page", "per_page", "filters"],
        "properties": {"items": {"type": "array", "items": _ref("CaseListItem")}, "total": {"type": "integer"},
                       "page": {"type": "integer"}, "per_page": {"type": "integer"},
                       "filters": {"type": "object", "additionalProperties": {"type": "string"},
                                   "description": "实际采用的查询条件"}},
    },
    "WorkOrder": {k: v for k, v in copy.deepcopy(WORK_ORDER_SCHEMA).items() if k != "title"},
    "WorkOrderReceipt": {
        "type": "object", "required": ["order_no", "case_no", "status"],
        "properties": {"order_no": {"type": "string"}, "case_no": {"type": "string"},
                       "status": {"type": "string", "enum": list(STATUS_LABELS)},
                       "status_label": {"type": "string", "enum": list(STATUS_LABELS.values())}},
    },
    "Rating": {
        "type": "object", "required": ["level"], "additionalProperties": False,
        "properties": {
            "level": {"type": "string", "description": "评价等级代码（data/rating_levels.yaml：very_satisfied "
                                                        "非常满意 … very_dissatisfied 非常不满意）"},
            "tags": {"type": "array", "items": {"type": "string"},
                     "description": "评价指标代码（data/rating_tags.yaml 中 channels 含 hotline 的）"},
            "comment": {"type": "string", "maxLength": 500, "description": "评语（选填）"},
        },
    },
    "RatingReceipt": {
        "type": "object", "required": ["rating_id", "level", "follow_up"],
        "properties": {"rating_id": {"type": "integer"}, "level": {"type": "string"}, "level_name": {"type": "string"},
                       "follow_up": {"type": "boolean", "description": "是否为差评整改后的追评"},
                       "rectification_case_no": {"type": ["string", "null"], "description": "差评启动的整改流程编号"}},
    },
    "WorkOrderState": {
        "type": "object",
        "required": ["order_no", "case_no", "status", "closed", "result", "updated_at"],
        "properties": {
            "order_no": {"type": "string"}, "case_no": {"type": "string"},
            "status": {"type": "string", "enum": list(STATUS_LABELS)},
            "status_label": {"type": "string", "enum": list(STATUS_LABELS.values())},
            "closed": {"type": "boolean"},
            "case_status": {"type": "string", "enum": CASE_STATUSES},
            "result": {"type": ["string", "null"], "description": "回单内容（办结后）"},
            "received_at": TIME, "updated_at": TIME,
        },
    },
}

ERROR_RESPONSES = {
    400: "请求有误（非 JSON 请求体；会话方式缺少 X-CSRFToken）", 401: "未登录或令牌无效/已吊销",
    403: "角色无权执行此操作", 404: "不存在或不在调用者的权限范围内", 409: "任务已办理、已被他人认领或案件正被处理",
    422: "数据校验未通过，errors 列出各字段的问题", 429: "请求过于频繁",
}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


TASK_PARAMETERS = [
    _query("scope", "mine：指派给我的；groups：我可见的全部", {"type": "string", "enum": ["mine", "groups"]}),
    _query("name", "环节名称包含"), _query("matter", "事项代码"),
    _query("channel", "受理渠道", {"type": "string", "enum": list(CHANNELS)}),
    _query("township", "乡镇(街道)代码"),
    _query("overdue", "1：只看超期", {"type": "string", "enum": ["0", "1"]}),
    _query("green_channel", "1：只看绿色通道", {"type": "string", "enum": ["0", "1"]}),
    _query("supplemented", "1：只看申请人补正后回到审查的任务（补正后待审）", {"type": "string", "enum": ["0", "1"]}),
    _query("due_from", "截止日期起（含）", {"type": "string", "format": "date"}),
    _query("due_to", "截止日期止（含）", {"type": "string", "format": "date"}),
    _query("case_no", "案件编号"),
    _query("sort", "排序", {"type": "string", "enum": list(SORTS)}),
    _query("page", f"页码（不带 after 时最多翻到第 {MAX_DEPTH} 项）", {"type": "integer", "minimum": 1}),
    _query("per_page", "每页条数", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
    _query("after", "上一页返回的 next_cursor（按位置翻页，深翻页用它）"),
]


FLAG = {"type": "string", "enum": ["0", "1"]}
CASE_PARAMETERS = [
    _query("date_from", "登记日期起（含，本地日期）", {"type": "string", "format": "date"}),
    _query("date_to", "登记日期止（含）", {"type": "string", "format": "date"}),
    _query("township", "乡镇(街道)代码"), _query("village", "村(社区)代码"), _query("matter", "事项代码"),
    _query("assistance_type", "救助类型代码（data/assistance_types.yaml）"),
    _query("channel", "受理渠道", {"type": "string", "enum": list(CHANNELS)}),
    _query("level", "受理层级", {"type": "string", "enum": list(LEVELS)}),
    _query("department", "部门代码（办理过该案件任务的部门）"),
    _query("status", "状态", {"type": "string", "enum": list(status_choices())}),
    _query("overdue", "1：只看有任务超期的案件", FLAG), _query("green", "1：只看绿色通道", FLAG),
    _query("satisfaction", "满意度（首次好差评等级代码，data/rating_levels.yaml）"),
    _query("q", "案件编号或诉求内容包含"),
    _query("page", "页码（JSON）", {"type": "integer", "minimum": 1}),
    _query("per_page", "每页条数（JSON）", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
    _query("format", "json（默认，一页）；csv、xlsx：导出全部符合条件的案件（流式下载，记入审计日志）",
           {"type": "string", "enum": ["json", *EXPORT_FORMATS]}),
    _query("unmask", "1：导出完整个人信息（仅 csv/xlsx，须访问令牌且用户有查看完整信息权限）", FLAG),
    _query("reason", f"导出完整个人信息的原因（unmask=1 时必填，最长 {MAX_REASON_LENGTH} 字）"),
]


def _task_action(summary: str, response: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": ["tasks"], "summary": summary, "parameters": [_path("task_id", "任务 ID")],
        "responses": {"200": response, **_errors(400, 401, 403, 404, 409, 422, 429)},
    }
    if body is not None:
        operation["requestBody"] = body
    return operation


def _paths() -> dict[str, Any]:
    task = _json(_ref("Task"), "任务")
    return {
        "/tasks": {"get": {
            "tags": ["tasks"], "summary": "待办任务（按角色与机构限定范围）", "parameters": TASK_PARAMETERS,
            "responses": {"200": _json(_ref("TaskPage"), "一页任务"), **_errors(401, 403, 422, 429)}}},
        "/tasks/{task_id}/claim": {"post": _task_action("认领任务", task)},
        "/tasks/{task_id}/release": {"post": _task_action("退回组内", task)},
        "/tasks/{task_id}/complete": {"post": _task_action(
            "办理任务（提交表单）", _json(_ref("OpenTasks"), "案件其余待办"),
            {"required": True, "content": {"application/json": {"schema": _ref("CompleteTask")}}})},
        "/applications": {"post": {
            "tags": ["cases"], "summary": "窗口登记救助申请（仅窗口工作人员）",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Application")}}},
            "responses": {"201": _json(_ref("ApplicationCreated"), "已登记并启动流程"),
                          **_errors(400, 401, 403, 422, 429)}}},
        "/cases": {"get": {
            "tags": ["cases"], "summary": "案件查询与导出（县中心、统计分析、联动部门、管理员；按权限范围）",
            "description": "按登记日期、区域、事项、渠道、层级、部门、状态、超期、绿色通道、满意度查询。"
                           "format=csv 为 UTF-8（带 BOM）的 CSV，format=xlsx 为 Excel 工作簿；申请人信息默认脱敏，"
                           "每次导出记入审计日志（条件、格式、条数）。",
            "parameters": CASE_PARAMETERS,
            "responses": {"200": {"description": "一页案件（JSON），或导出文件", "content": {
                "application/json": {"schema": _ref("CasePage")},
                "text/csv": {"schema": {"type": "string"}},
                EXPORT_FORMATS["xlsx"]: {"schema": {"type": "string", "contentEncoding": "binary"}}}},
                **_errors(401, 403, 422, 429)}}},
        "/cases/{case_no}": {"get": {
            "tags": ["cases"], "summary": "案件状态、待办与全程记录（申请人信息脱敏）",
            "parameters": [_path("case_no", "案件编号")],
            "responses": {"200": _json(_ref("Case"), "案件"), **_errors(401, 404, 429)}}},
        "/hotline/work-orders": {"post": {
            "tags": ["hotline"], "summary": "12345 推送工单（幂等：同一工单编号只立一案）",
            "description": "诉求类型为咨询、求助、建议的工单登记为救助申请（案件编号 SJ…）；诉求类型为投诉的工单"
                           "启动投诉流程（投诉编号 TS…，可带 complaint_type、about_org、case_no），承办单位答复后"
                           "答复内容经 12345 回单通道推送回 12345。",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("WorkOrder")}}},
            "responses": {"201": _json(_ref("WorkOrderReceipt"), "新工单，已立案"),
                          "200": _json(_ref("WorkOrderReceipt"), "重复推送，返回原案件"),
                          **_errors(400, 401, 403, 422, 429)}}},
        "/hotline/work-orders/{order_no}": {"get": {
            "tags": ["hotline"], "summary": "工单办理状态与回单（12345 接口账号、系统管理员；投诉工单的回单为答复）",
            "parameters": [_path("order_no", "工单编号")],
            "responses": {"200": _json(_ref("WorkOrderState"), "工单状态"), **_errors(401, 404, 429)}}},
        "/cases/{case_no}/rating": {"post": {
            "tags": ["hotline"], "summary": "12345 回访满意度（好差评，案件结束后一次；差评整改后可追评一次）",
            "parameters": [_path("case_no", "案件编号")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Rating")}}},
            "responses": {"201": _json(_ref("RatingReceipt"), "已记录评价"), **_errors(401, 403, 404, 409, 422, 429)}}},
        "/openapi.json": {"get": {
            "tags": ["meta"], "summary": "本接口说明（OpenAPI 3.1）", "security": [],
            "responses": {"200": {"description": "OpenAPI 文档", "content": {"application/json": {}}}}}},
    }


def openapi_document() -> dict[str, Any]:
    """Build the OpenAPI document of /api/v1."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "社会救助联动平台 REST API", "version": "1.0.0",
                 "description": "DB32/T 4012-2021 社会救助联动：待办、登记、案件查询，以及 12345 工单对接（R-5.1.3）。"
                                "错误统一为 {error, message, errors}。"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "tags": [{"name": "tasks", "description": "待办任务"}, {"name": "cases", "description": "申请与案件"},
                 {"name": "hotline", "description": "12345 工单"}, {"name": "meta", "description": "接口说明"}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "relief token create USERNAME 签发的访问令牌"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "工作台登录会话；POST 须带 X-CSRFToken 请求头"},
            },
            "schemas": SCHEMAS,
            "responses": {f"E{code}": _json(_ref("Error"), text) for code, text in ERROR_RESPONSES.items()},
        },
    }


@bp.get("/openapi.json", endpoint="openapi_document")
def openapi_document_view() -> Response:
    """Serve the OpenAPI document."""
    return jsonify(openapi_document())
