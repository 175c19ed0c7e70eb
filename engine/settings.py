"""Settings (配置): everything the engine takes from its surroundings, in one object.

The web app builds it from `app.config` (factory defaults → `instance/config.py` → `RELIEF_*`
environment, as Flask reads them); the CLI and the scheduler build it from the `RELIEF_*`
environment. It is passed into the engine; nothing else in `engine/` reads the environment. Defaults are
defined here once (`from_mapping`); the README lists the variables.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.bpmn.forms import FormLibrary
    from engine.deadlines.policy import DueTimePolicy
    from engine.reference import ReferenceData

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "RELIEF_"
ENVIRONMENTS = ("development", "production")
AUDIT_RETENTION_DAYS = 365  # how long the audit log is kept by default
MIN_AUDIT_RETENTION_DAYS = 183  # at least six months (DOMAIN: keep audit logs at least 6 months, GB/T 37973)
LOG_FORMATS = ("text", "json")
METRICS_ALLOW = "127.0.0.1,::1"  # who may read /metrics without the token: this host
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting has a value the engine cannot work with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """The engine's configuration; build it with `from_mapping` or `from_environ`."""

    database_url: str
    instance_dir: Path
    data_dir: Path
    forms_dir: Path
    calendar_file: Path
    upload_dir: Path
    archive_dir: Path
    content_pdf_max_bytes: int
    catalog_image_dir: Path
    catalog_image_max_bytes: int
    env: str
    password_hash_method: str
    green_channel_factor: Fraction
    sms_gateway: str | None
    sms_log: Path
    hotline_log: Path
    hotline_push_url: str | None
    hotline_push_timeout: float
    audit_retention_days: int
    portal_url: str = ""  # the portal's public address (https://…), for links in SMS; '' leaves them out
    log_format: str = "text"  # "json": one JSON object a line (the default when RELIEF_ENV=production)
    metrics_token: str | None = None  # `Authorization: Bearer …` that may read /metrics from anywhere
    metrics_allow: tuple[IPNetwork, ...] = ()  # addresses (or networks) that may read /metrics without it
    idle_timeout_minutes: int = 30  # a signed-in session idle this long is signed out (IDLE_TIMEOUT_MINUTES)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Build from config keys without the prefix (DATABASE_URL, DATA_DIR, …); absent or empty ones
        take their defaults. Flask's config and the environment both come in this shape."""
        def given(key: str) -> Any:
            value = values.get(key)
            return None if value is None or value == "" else value

        instance = Path(given("INSTANCE_DIR") or PROJECT_ROOT / "instance")
        data_dir = Path(given("DATA_DIR") or PROJECT_ROOT / "data")
        env = str(given("ENV") or "development")
        if env not in ENVIRONMENTS:
            raise SettingsError(f"{ENV_PREFIX}ENV 应为 {'、'.join(ENVIRONMENTS)} 之一，实际为 {env!r}")
        upload_dir = Path(given("UPLOAD_DIR") or instance / "uploads")
        catalog_image_dir = Path(given("CATALOG_IMAGE_DIR") or instance / "catalog-images")
        if catalog_image_dir.resolve() == upload_dir.resolve():
            # The public serves catalog images by hash: the cases' uploads must never be among them.
            raise SettingsError(f"{ENV_PREFIX}CATALOG_IMAGE_DIR 不能与 {ENV_PREFIX}UPLOAD_DIR 相同：{upload_dir}")
        return cls(
            database_url=str(given("DATABASE_URL") or f"sqlite:///{instance / 'relief.db'}"),
            instance_dir=instance,
            data_dir=data_dir,
            forms_dir=Path(given("FORMS_DIR") or PROJECT_ROOT / "forms"),
            calendar_file=Path(given("CALENDAR_FILE") or PROJECT_ROOT / "data" / "calendar" / "cn_overrides.yaml"),
            upload_dir=upload_dir,
            archive_dir=Path(given("ARCHIVE_DIR") or instance / "archive"),
            content_pdf_max_bytes=_megabytes("CONTENT_PDF_MAX_MB", given("CONTENT_PDF_MAX_MB"), 20),
            catalog_image_dir=catalog_image_dir,
            catalog_image_max_bytes=_megabytes("CATALOG_IMAGE_MAX_MB", given("CATALOG_IMAGE_MAX_MB"), 2),
            env=env,
            password_hash_method=str(given("PASSWORD_HASH_METHOD") or "scrypt"),
            green_channel_factor=_factor(given("GREEN_CHANNEL_FACTOR")),
            sms_gateway=_text(given("SMS_GATEWAY")),
            sms_log=Path(given("SMS_LOG") or instance / "sms.log"),
            hotline_log=Path(given("HOTLINE_LOG") or instance / "hotline.log"),
            hotline_push_url=_text(given("HOTLINE_PUSH_URL")),
            hotline_push_timeout=_seconds(given("HOTLINE_PUSH_TIMEOUT")),
            audit_retention_days=_retention_days(given("AUDIT_RETENTION_DAYS")),
            portal_url=str(given("PORTAL_URL") or "").strip().rstrip("/"),
            log_format=_log_format(given("LOG_FORMAT"), env),
            metrics_token=_text(given("METRICS_TOKEN")),
            metrics_allow=_networks(given("METRICS_ALLOW")),
            idle_timeout_minutes=_idle_minutes(given("IDLE_TIMEOUT_MINUTES")),
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build from the `RELIEF_*` variables of `environ` (default: this process's environment);
        `overrides` (keys as in `from_mapping`) win over both."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {k[len(ENV_PREFIX):]: v for k, v in source.items() if k.startswith(ENV_PREFIX)}
        values.update(overrides)
        return cls.from_mapping(values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests, benchmarks)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        return Settings(**{**current, **changes})

    @property
    def production(self) -> bool:
        """True when RELIEF_ENV=production (demo data is refused)."""
        return self.env == "production"

    @cached_property
    def reference(self) -> ReferenceData:
        """Departments, roles and assistance types from `data_dir`; the matter catalog from the database."""
        from engine.reference import ReferenceData

        return ReferenceData(self.data_dir, self.database_url)

    @cached_property
    def forms(self) -> FormLibrary:
        """The task forms (JSON Schemas) in `forms_dir`."""
        from engine.bpmn.forms import FormLibrary

        return FormLibrary(self.forms_dir)

    @property
    def due_policy(self) -> DueTimePolicy:
        """How long tasks of green-channel cases get (R-6.3.5)."""
        from engine.deadlines.policy import DueTimePolicy

        return DueTimePolicy(self.green_channel_factor)


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _factor(value: Any) -> Fraction:
    if value is None:
        from engine.deadlines.policy import DEFAULT_FACTOR

        return DEFAULT_FACTOR
    text = str(value).strip()
    try:
        # A Fraction keeps "0.1" exact, so 30 × 0.1 rounds up to 3 and not to 4.
        factor = Fraction(text)
    except (ValueError, ZeroDivisionError) as exc:
        raise SettingsError(f"{ENV_PREFIX}GREEN_CHANNEL_FACTOR={text!r} 不是数字（如 0.5）") from exc
    if not 0 < factor <= 1:
        raise SettingsError(f"{ENV_PREFIX}GREEN_CHANNEL_FACTOR={text!r} 应大于 0 且不超过 1"
                            "（绿色通道只缩短办理时限，不延长）")
    return factor


def _megabytes(key: str, value: Any, default: int) -> int:
    if value is None:
        return default * 1024 * 1024
    try:
        megabytes = int(str(value).strip())
    except ValueError as exc:
        raise SettingsError(f"{ENV_PREFIX}{key} 应为整数 MB：{value!r}") from exc
    if megabytes <= 0:
        raise SettingsError(f"{ENV_PREFIX}{key} 应大于 0：{value!r}")
    return megabytes * 1024 * 1024


def _seconds(value: Any) -> float:
    if value is None:
        return 10.0
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{ENV_PREFIX}HOTLINE_PUSH_TIMEOUT 应为秒数：{value!r}") from exc
    if seconds <= 0:
        raise SettingsError(f"{ENV_PREFIX}HOTLINE_PUSH_TIMEOUT 应大于 0：{value!r}")
    return seconds


def _idle_minutes(value: Any) -> int:
    if value is None:
        return 30
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        minutes = 0
    if not 1 <= minutes <= 24 * 60:
        raise SettingsError(f"{ENV_PREFIX}IDLE_TIMEOUT_MINUTES 应为 1 至 1440 之间的整数（分钟），实际为 {value!r}")
    return minutes


def _retention_days(value: Any) -> int:
    if value is None:
        return AUDIT_RETENTION_DAYS
    try:
        days = int(str(value).strip())
    except ValueError as exc:
        raise SettingsError(f"{ENV_PREFIX}AUDIT_RETENTION_DAYS 应为天数（整数）：{value!r}") from exc
    if days < MIN_AUDIT_RETENTION_DAYS:
        raise SettingsError(f"{ENV_PREFIX}AUDIT_RETENTION_DAYS={days} 过短：审计日志至少保存 6 个月"
                            f"（不少于 {MIN_AUDIT_RETENTION_DAYS} 天）")
    return days


def _log_format(value: Any, env: str) -> str:
    if value is None:
        return "json" if env == "production" else "text"
    text = str(value).strip().lower()
    if text not in LOG_FORMATS:
        raise SettingsError(f"{ENV_PREFIX}LOG_FORMAT 应为 {'、'.join(LOG_FORMATS)} 之一，实际为 {value!r}")
    return text


def _networks(value: Any) -> tuple[IPNetwork, ...]:
    text = METRICS_ALLOW if value is None else str(value)
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise SettingsError(f"{ENV_PREFIX}METRICS_ALLOW 应为逗号分隔的地址或网段（如 127.0.0.1,10.0.0.0/8）："
                            f"{value!r}") from exc
