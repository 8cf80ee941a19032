"""The admin pages: overview, jobs, tasks, dead letters, cron tasks, workers, alerts, mail
outbox, audit log, and (admins only) accounts and API tokens.

Every page needs a login; every action needs the operator role (accounts and tokens: the
admin role) and a CSRF token (see web.security), and writes an audit row in the same
transaction as the action itself.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The view modules register their routes on `bp`.
from web.admin import (  # noqa: E402
    access,
    alerts,
    audit_log,
    dead_letters,
    jobs,
    outbox,
    overview,
    periodic,
    privacy,
    queues,
    reveal,
    tasks,
    workers,
)

__all__ = [
    "access",
    "alerts",
    "audit_log",
    "bp",
    "dead_letters",
    "jobs",
    "outbox",
    "overview",
    "periodic",
    "privacy",
    "queues",
    "reveal",
    "tasks",
    "workers",
]
