"""The JSON API under /api: the admin pages' data and actions, and the app-side endpoints.

Authentication: the browser session (state changes then need the X-CSRF-Token header), an
API token (`Authorization: Bearer`, scoped) or an account's HTTP Basic credentials on every
request. See web/API.md.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

# The endpoint modules register their routes on `bp`.
from web.api import (  # noqa: E402
    alerts,
    applications,
    dead_letters,
    jobs,
    queues,
    resumes,
    reveal,
    stats,
)

__all__ = [
    "alerts",
    "applications",
    "bp",
    "dead_letters",
    "jobs",
    "queues",
    "resumes",
    "reveal",
    "stats",
]
