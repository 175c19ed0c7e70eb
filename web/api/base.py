"""The REST API blueprint: bearer-token or session sign-in, CSRF for sessions, JSON errors, helpers.

Machines (the 12345 platform) send `Authorization: Bearer <token>`; the workbench's own pages may
call the API with their session cookie, and then every state-changing request must carry the
page's CSRF token in the `X-CSRFToken` header (a cookie alone proves nothing about who sent it).
Every refusal is JSON: {"error": code, "message": 中文, "errors": {field: [..]}}.
"""

from __future__ import annotations

import hashlib
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import ValidationError, validate_csrf
from werkzeug.exceptions import HTTPException

from engine.access import scoping
from engine.access.accounts import Principal
from engine.errors import EngineError, Forbidden, InvalidData, NotDeployed, NotFound, TaskConflict, WorkflowFailure
from web.extensions import csrf, limiter
from web.services import authenticate_bearer, principal

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.openapi_document"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
DEFAULT_RATE_LIMIT = "300 per minute"

HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "请先登录，或提供有效的访问令牌（Authorization: Bearer …）"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not_found", "对象不存在或不在您的权限范围内"),
    405: ("method_not_allowed", "该接口不支持此请求方法"),
    409: ("conflict", "操作冲突，请刷新后重试"),
    413: ("too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请求体应为 JSON（Content-Type: application/json）"),
    422: ("invalid", "提交的数据有误"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "系统内部错误，请稍后再试"),
}
ENGINE_STATUS: dict[type[EngineError], int] = {
    NotFound: 404, Forbidden: 403, TaskConflict: 409, InvalidData: 422, NotDeployed: 503, WorkflowFailure: 500,
}


def _rate_limit() -> str:
    return str(current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT))


def _client_key() -> str:
    # Before sign-in is resolved: one budget per token (a machine account), else per address.
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()
    return "addr:" + (request.remote_addr or "?")


# The browser's CSRF form check does not fit JSON clients; `_require_sign_in` does the API's own.
csrf.exempt(bp)
limiter.limit(_rate_limit, key_func=_client_key)(bp)


def json_error(status: int, code: str | None = None, message: str | None = None,
               errors: dict[str, list[str]] | None = None) -> Response:
    """A JSON error response in the API's one shape."""
    default_code, default_message = HTTP_ERRORS.get(status, ("error", "请求失败"))
    response = jsonify({"error": code or default_code, "message": message or default_message,
                        "errors": errors or {}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="relief"'
    return response


@bp.before_request
def _require_sign_in() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    authenticate_bearer()
    if g.get("bearer_failed"):
        return json_error(401, "invalid_token", "访问令牌无效或已吊销")
    if g.get("api_principal") is not None:
        return None
    if not current_user.is_authenticated:
        return json_error(401)
    if request.method not in SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
        token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
        try:
            validate_csrf(token)
        except ValidationError:
            return json_error(400, "csrf_failed", "缺少或无效的 CSRF 令牌：会话方式调用须在 X-CSRFToken 请求头中提供")
    return None


@bp.errorhandler(EngineError)
def _engine_error(error: EngineError) -> Response:
    status = next((s for kind, s in ENGINE_STATUS.items() if isinstance(error, kind)), 400)
    errors = error.errors if isinstance(error, InvalidData) else None
    return json_error(status, error.code, error.message, errors)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    message = HTTP_ERRORS.get(status, ("", error.description or "请求失败"))[1]
    response = json_error(status, message=message)
    allowed = getattr(error, "valid_methods", None)
    if status == 405 and allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


# By code as well as by class: the app's own handlers by code (its HTML error pages) would win otherwise.
bp.register_error_handler(HTTPException, _http_error)
for _code in HTTP_ERRORS:
    bp.register_error_handler(_code, _http_error)


@bp.route("/<path:_path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(_path: str) -> Response:
    """Answer unknown API paths (and known ones with the wrong method) in JSON, not the HTML error page."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _args = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    if allowed:
        response = json_error(405)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return json_error(404, message="接口不存在")


def refuse(status: int, message: str, code: str | None = None) -> NoReturn:
    """Stop the request with a JSON error."""
    abort(json_error(status, code, message))


def allowed(action: str) -> Principal:
    """The caller if `engine.access.scoping` lets them do `action`; else 403 with the reason."""
    who = principal()
    try:
        scoping.require(who, action)
    except Forbidden as refused:
        refuse(403, refused.message)
    return who


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when the body is not JSON, 422 when it is not an object."""
    body = request.get_json(silent=True)
    if body is None:
        refuse(400, "请求体应为 JSON（Content-Type: application/json）", "bad_json")
    if not isinstance(body, dict):
        raise InvalidData("请求体应为 JSON 对象", {"body": ["应为 JSON 对象"]})
    return body
