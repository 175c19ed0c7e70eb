"""Security headers on every response (HTML, JSON, files, errors, static): the one place they are set.

The Content-Security-Policy allows scripts only from this origin: the templates hold no inline script,
no on* handler and no style= attribute (tests/web/test_security_headers.py scans them); page code lives
in web/static/*.js. `<script type="application/json">` data blocks are not run, so CSP leaves them be.
"""

from __future__ import annotations

from flask import Flask, Response, request

# img-src data:: the modeler's stylesheet draws icons with data: SVGs. form-action 'self': every form posts
# here. frame-ancestors 'none': no page is meant to be framed (X-Frame-Options: DENY for older browsers).
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# The BPMN modeler and the DMN editor: their properties panels' FEEL fields are CodeMirror 6 editors, which
# mount their styles as <style> elements at run time (style-mod; a nonce would have to be handed to each
# editor inside bpmn-js-properties-panel/dmn-js, which offer no option for it). Only styles are relaxed,
# only on these pages: scripts stay 'self' everywhere, and CSS cannot run code. The dashboard and the hall's
# display likewise: ECharts' HTML tooltips and its axis-pointer labels are markup with style attributes.
INLINE_STYLE_ENDPOINTS = frozenset({"design.modeler", "design.decision", "dashboard.index", "dashboard.hall"})

HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(endpoint: str | None) -> str:
    """The Content-Security-Policy header's value for a response of `endpoint`."""
    policy = dict(POLICY)
    if endpoint in INLINE_STYLE_ENDPOINTS:
        policy["style-src"] = "'self' 'unsafe-inline'"
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def add_security_headers(response: Response) -> Response:
    """after_request: the headers every response carries; HSTS only when the request came over TLS."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(request.endpoint)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    # A view may send a stricter one: the tablet's pairing page (its link carries the device token) says same-origin.
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if request.is_secure:  # behind a TLS proxy: RELIEF_PROXY_FIX makes X-Forwarded-Proto count
        headers["Strict-Transport-Security"] = HSTS
    return response


def init_app(app: Flask) -> None:
    """Register the headers on `app`."""
    app.after_request(add_security_headers)
