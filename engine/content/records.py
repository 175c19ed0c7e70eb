"""What the portal's content holds: policy documents (政策法规) and pages (中心简介 …), and their checks.

A form's values become a *record*: the item's fields as JSON (dates as ISO text, a PDF as its hash,
name and size, the status), kept whole with every revision and written to the item's row by
`columns_of`. The checks answer in Chinese, field by field. A PDF is recognised by its first bytes
(`%PDF-`), not by the name a browser sends.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from engine.cases.materials import Material, Upload, clean_filename
from engine.i18n import _l

POLICY, PAGE = "policy", "page"
KIND_LABELS = {POLICY: _l("政策文件"), PAGE: _l("门户页面")}
# Each kind's fields and their labels, in the order pages and the diff list them.
FIELDS: dict[str, dict[str, str]] = {
    POLICY: {"title": _l("标题"), "doc_number": _l("文号"), "issuer": _l("发文机关"), "issued_on": _l("成文/发布日期"),
             "body": _l("正文"), "pdf": _l("PDF 文件"), "status": _l("状态")},
    PAGE: {"slug": _l("页面地址"), "title": _l("标题"), "body": _l("正文"), "status": _l("状态")},
}
# What each save did (a revision's `action`).
ACTION_LABELS = {"created": _l("新建"), "edited": _l("修改"), "withdrawn": _l("撤回"), "published": _l("重新发布"),
                 "restored": _l("恢复旧版")}
LIMITS = {"title": 200, "doc_number": 100, "issuer": 200, "slug": 60, "body": 100_000, "reason": 500}
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
ABOUT = "about"  # the slug of 中心简介
PDF_MAGIC = b"%PDF-"
PDF_TYPE = "application/pdf"
EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)


def _text(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def _body(values: Mapping[str, Any]) -> str:
    value = values.get("body")
    return value.replace("\r\n", "\n").rstrip() if isinstance(value, str) else ""


def parse_date(text: str) -> date | None:
    """A date written YYYY-MM-DD between 1900 and 2100, else None."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST and len(text) == 10 else None


def _too_long(record: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    for key, limit in LIMITS.items():
        value = record.get(key)
        if isinstance(value, str) and len(value) > limit:
            errors.setdefault(key, []).append(f"不能超过 {limit} 个字")


def check_policy(values: Mapping[str, Any], pdf: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The record of a policy document from form values and its PDF (None: none), and the errors."""
    record: dict[str, Any] = {"title": _text(values, "title"), "doc_number": _text(values, "doc_number") or None,
                              "issuer": _text(values, "issuer"), "issued_on": _text(values, "issued_on"),
                              "body": _body(values), "pdf": pdf}
    errors: dict[str, list[str]] = {}
    if not record["title"]:
        errors["title"] = ["请填写标题"]
    if not record["issuer"]:
        errors["issuer"] = ["请填写发文机关"]
    if not record["issued_on"]:
        errors["issued_on"] = ["请填写成文或发布日期"]
    elif parse_date(record["issued_on"]) is None:
        errors["issued_on"] = ["日期应为 YYYY-MM-DD 格式的有效日期（1900–2100 年）"]
    if not record["body"] and pdf is None:
        errors["body"] = ["请填写正文或上传 PDF 文件（至少一项）"]
    _too_long(record, errors)
    return record, errors


def check_page(values: Mapping[str, Any], slug: str | None = None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The record of a portal page from form values (`slug`: the page's, once created), and the errors."""
    record = {"slug": slug if slug is not None else _text(values, "slug").lower(), "title": _text(values, "title"),
              "body": _body(values)}
    errors: dict[str, list[str]] = {}
    if not record["slug"]:
        errors["slug"] = ["请填写页面地址，如 about"]
    elif not SLUG.fullmatch(record["slug"]):
        errors["slug"] = ["页面地址只能由小写字母、数字和连字符组成，如 about、guide-dibao"]
    if not record["title"]:
        errors["title"] = ["请填写标题"]
    if not record["body"]:
        errors["body"] = ["请填写正文"]
    _too_long(record, errors)
    return record, errors


def check_reason(reason: str | None, required: bool) -> tuple[str, dict[str, list[str]]]:
    """The reason of a change (修改原因), stripped, and its errors."""
    text = (reason or "").strip()
    if required and not text:
        return text, {"reason": ["请填写修改原因（记入修订记录）"]}
    if len(text) > LIMITS["reason"]:
        return text, {"reason": [f"不能超过 {LIMITS['reason']} 个字"]}
    return text, {}


def check_pdf(upload: Upload, max_bytes: int) -> tuple[Material | None, str | None]:
    """An uploaded policy document as a PDF to store, or why it is refused."""
    name = clean_filename(upload.filename)
    if not upload.content:
        return None, f"文件“{name}”是空文件"
    if len(upload.content) > max_bytes:
        return None, f"文件“{name}”超过 {max_bytes // (1024 * 1024)} MB"
    if not upload.content.startswith(PDF_MAGIC):
        return None, f"文件“{name}”不是 PDF 文件（只接受 PDF）"
    digest = hashlib.sha256(upload.content).hexdigest()
    return Material(name, PDF_TYPE, len(upload.content), digest, upload.content), None


def pdf_of(material: Material) -> dict[str, Any]:
    """A stored PDF as a record keeps it."""
    return {"sha256": material.sha256, "filename": material.filename, "size": material.size}


def columns_of(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The item row's columns for a record."""
    if kind == PAGE:
        return {key: record[key] for key in ("slug", "title", "body", "status")}
    pdf = record["pdf"] or {}
    return {"title": record["title"], "doc_number": record["doc_number"], "issuer": record["issuer"],
            "issued_on": date.fromisoformat(record["issued_on"]), "body": record["body"],
            "pdf_sha256": pdf.get("sha256"), "pdf_filename": pdf.get("filename"), "pdf_size": pdf.get("size"),
            "status": record["status"]}


def record_of(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The record of an item row (what its newest revision holds)."""
    if kind == PAGE:
        return {key: row[key] for key in ("slug", "title", "body", "status")}
    pdf = ({"sha256": row["pdf_sha256"], "filename": row["pdf_filename"], "size": row["pdf_size"]}
           if row["pdf_sha256"] else None)
    return {"title": row["title"], "doc_number": row["doc_number"], "issuer": row["issuer"],
            "issued_on": row["issued_on"].isoformat(), "body": row["body"], "pdf": pdf, "status": row["status"]}
