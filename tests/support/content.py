"""The portal's content as tests write it: a policy document's fields, a tiny real PDF, hostile Markdown."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.models import AuditLog
from tests.support.db import tx

# The smallest file a PDF reader opens: header, one empty page, cross-reference table, trailer.
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
       b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
       b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

# Every way the brief names of getting script into a page through Markdown, beside harmless formatting.
HOSTILE_MARKDOWN = """## 一、适用范围

本办法适用于**本县户籍**居民，详见[民政部网站](https://www.mca.gov.cn/)。

<script>alert('script')</script>

<img src="x.png" onerror="alert('onerror')">

<p onclick="alert('onclick')">点击</p>

[点我](javascript:alert('markdown-link')) 和 <a href="javascript:alert('html-link')">这里</a>

<iframe src="https://example.org/evil"></iframe>

| 类别 | 标准 |
|:--|--:|
| 低保 | 850 元 |
"""


def policy_values(**changes: Any) -> dict[str, Any]:
    """The form values of a valid policy document (Markdown text, no PDF)."""
    values = {"title": "示范县最低生活保障实施办法", "doc_number": "示政发〔2026〕12号", "issuer": "示范县人民政府",
              "issued_on": "2026-03-01",
              "body": "## 第一条\n\n为保障困难群众基本生活，制定本办法。\n\n## 第二条\n\n本办法自发布之日起施行。"}
    return {**values, **changes}


def about_values(**changes: Any) -> dict[str, Any]:
    """The form values of the 中心简介 page."""
    return {"slug": "about", "title": "示范县社会救助中心简介",
            "body": "示范县社会救助中心负责全县社会救助联动工作。\n\n地址：示范县人民路 1 号", **changes}


def audit_actions(database_url: str, prefix: str = "content_") -> list[tuple[str, str | None]]:
    """(action, target) of the audit log's entries starting with `prefix`, oldest first."""
    with tx(database_url) as session:
        rows = session.execute(select(AuditLog.action, AuditLog.target).where(AuditLog.action.startswith(prefix))
                               .order_by(AuditLog.id))
        return [(action, target) for action, target in rows]
