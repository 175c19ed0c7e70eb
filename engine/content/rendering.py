"""Markdown to HTML for the portal: rendered by markdown-it, then passed through a sanitiser (nh3).

Administrators write Markdown; raw HTML in it is parsed but only what the allow-list below names
survives the sanitiser: no scripts, iframes, forms, event handlers (`onerror=`…) or styles, and links
only to http(s), mailto and the portal's own pages. What this returns is safe to put in a page as is.
A table column's alignment (markdown-it writes `style="text-align:…"`) becomes a class (`align-right`), as
the Content-Security-Policy applies no style attributes.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "del", "ins",
    "sup", "sub", "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}  # th, td: only ALLOWED_CLASSES
ALIGNMENTS = {"align-left", "align-center", "align-right"}
ALLOWED_CLASSES = {"th": ALIGNMENTS, "td": ALIGNMENTS}
_ALIGN_STYLE = re.compile(r"""\bstyle=(["'])\s*text-align:\s*(left|center|right)\s*;?\s*\1""", re.IGNORECASE)
URL_SCHEMES = {"http", "https", "mailto"}
# Dropped with everything inside them (other tags outside the list keep their text).
DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "textarea", "select"}

_markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def sanitize(html: str) -> str:
    """Keep only the allow-listed tags, attributes and link schemes of an HTML fragment."""
    aligned = _ALIGN_STYLE.sub(lambda m: f'class="align-{m.group(2).lower()}"', html)
    return nh3.clean(aligned, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     clean_content_tags=DROPPED_WITH_CONTENT, allowed_classes=ALLOWED_CLASSES,
                     link_rel="noopener noreferrer nofollow")


def render_markdown(text: str) -> str:
    """The Markdown `text` as sanitised HTML (markdown-it's CommonMark with tables and strikethrough)."""
    return sanitize(_markdown.render(text or ""))
