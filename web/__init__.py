"""The Flask app factory: settings, the database seam, then one blueprint per area."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

from hiring_jobs.settings import get_settings
from web import db


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    settings = get_settings()
    app = Flask(__name__)
    app.config.from_mapping(
        # Without a configured key, sessions do not survive a restart: fine for a demo.
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        DATABASE_URL=None,  # None: hiring_jobs.db.database_url()
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.update(test_config)

    db.init_app(app)

    from web import health, pages

    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    return app
