"""REST API v1 (/api/v1): tasks, applications and cases for staff, and the 12345 data interface.

`base` holds the blueprint with its sign-in, CSRF and JSON error handling; each feature module
adds its routes to it. Importing the modules here is what registers those routes.
"""

from __future__ import annotations

from web.api import cases, hotline, openapi, tasks
from web.api.base import bp

__all__ = ["bp", "cases", "hotline", "openapi", "tasks"]
