"""Delivery adapters of the outbox: SMS to applicants and the 12345 result push (回单).

A gateway gets one notification as a mapping and either returns (delivered) or raises
`GatewayError`; `retryable=False` means trying again cannot help (no phone number, a request
the far side refuses). The outbox fills in what a gateway needs before calling it — `phone`
for SMS (from the application row), `order_no` for 12345 — so adapters never touch the database.

Which adapters run is configuration (`Settings`), applied by `configured_gateways(settings)`:

- `RELIEF_SMS_GATEWAY=package.module:ClassName` plugs in a real SMS gateway; the class is
  created without arguments (it reads its own settings) and must have `send(notification)`.
  Unset: `LogSmsGateway`, one JSON line per message in `RELIEF_SMS_LOG` (default `instance/sms.log`).
- `RELIEF_HOTLINE_PUSH_URL` set: `HttpHotlineGateway` POSTs each 回单 as JSON there
  (`RELIEF_HOTLINE_PUSH_TIMEOUT` seconds, default 10). Unset: `LogHotlineGateway`, one JSON
  line per 回单 in `RELIEF_HOTLINE_LOG` (default `instance/hotline.log`).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from engine.errors import EngineError
from engine.settings import Settings


class GatewayError(Exception):
    """A delivery failed; `retryable` says whether a later attempt may succeed."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class GatewayConfigError(EngineError):
    """A configured gateway cannot be loaded."""

    code = "gateway_config"


class Gateway(Protocol):
    """Delivers one notification or raises GatewayError."""

    def send(self, notification: Mapping[str, Any]) -> None:
        """Deliver `notification` (id, case_no, channel, kind, content, details, and phone or order_no)."""


class JsonLinesLog:
    """Append one JSON document per line to a file, safely from several threads."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, entry: Mapping[str, Any]) -> None:
        """Write `entry` as one line (created owner-only: it holds phone numbers)."""
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(descriptor, "a", encoding="utf-8") as log:
                    log.write(line)
            except OSError as err:
                raise GatewayError(f"无法写入 {self.path}：{err.strerror}") from err


class LogSmsGateway:
    """Development SMS adapter: each message becomes a line {id, case_no, phone, kind, content}."""

    def __init__(self, path: str | os.PathLike[str]):
        self.log = JsonLinesLog(path)

    def send(self, notification: Mapping[str, Any]) -> None:
        """Log the message to the applicant's phone; without a phone it can never be sent."""
        phone = notification.get("phone")
        if not phone:
            raise GatewayError("申请人没有登记手机号码", retryable=False)
        self.log.append({"id": notification["id"], "case_no": notification["case_no"], "phone": phone,
                         "kind": notification["kind"], "content": notification["content"]})


class LogHotlineGateway:
    """Development 12345 adapter: each 回单 becomes a line {id, order_no, case_no, status, result}."""

    def __init__(self, path: str | os.PathLike[str]):
        self.log = JsonLinesLog(path)

    def send(self, notification: Mapping[str, Any]) -> None:
        """Log the result for the work order; without an order number 12345 cannot match it."""
        self.log.append(hotline_payload(notification))


class HttpHotlineGateway:
    """POST each 回单 as JSON to the 12345 platform; 5xx, 429 and network errors are retried."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url, self.timeout = url, timeout

    def send(self, notification: Mapping[str, Any]) -> None:
        """Push the result; the notification id goes along as an idempotency key for the far side."""
        body = json.dumps(hotline_payload(notification), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": f"relief-notification-{notification['id']}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as err:
            retryable = err.code >= 500 or err.code in (408, 429)
            raise GatewayError(f"12345 平台返回 HTTP {err.code}", retryable=retryable) from err
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise GatewayError(f"无法连接 12345 平台：{reason}") from err


def hotline_payload(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The 回单 document: work order number, case, closing status and the result text."""
    order_no = notification.get("order_no")
    if not order_no:
        raise GatewayError("回单缺少 12345 工单编号", retryable=False)
    details = notification.get("details") or {}
    return {"id": notification["id"], "order_no": order_no, "case_no": notification["case_no"],
            "status": details.get("status"), "result": notification["content"]}


def load_gateway(spec: str) -> Gateway:
    """Create the gateway named `module.path:ClassName` (no constructor arguments)."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise GatewayConfigError(f"网关配置应为 module.path:ClassName：{spec}")
    try:
        factory = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise GatewayConfigError(f"无法加载网关 {spec}：{err}") from err
    gateway = factory()
    if not callable(getattr(gateway, "send", None)):
        raise GatewayConfigError(f"网关 {spec} 没有 send(notification) 方法")
    return gateway  # type: ignore[no-any-return]


def configured_gateways(settings: Settings) -> dict[str, Gateway]:
    """The configured gateway of each outbox channel (see the module docstring)."""
    hotline: Gateway
    if settings.hotline_push_url:
        hotline = HttpHotlineGateway(settings.hotline_push_url, settings.hotline_push_timeout)
    else:
        hotline = LogHotlineGateway(settings.hotline_log)
    sms = load_gateway(settings.sms_gateway) if settings.sms_gateway else LogSmsGateway(settings.sms_log)
    return {"sms": sms, "hotline": hotline}
