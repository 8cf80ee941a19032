"""The Flask app factory: settings, the database seam, security, then one blueprint per area."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from hiring_jobs.access.keys import secret_key
from hiring_jobs.settings import get_settings
from web import (
    authentication,
    db,
    errors,
    filters,
    masking,
    request_id,
    security,
    tracing,
    validation,
)

# Room for the multipart envelope around the largest accepted file.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


class JSONProvider(DefaultJSONProvider):
    """ISO 8601 times and plain numbers (Flask's default writes dates as HTTP dates);
    request bodies read strictly (web.validation.loads_json)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return validation.loads_json(s)

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        if isinstance(o, Decimal):
            return float(o)
        return DefaultJSONProvider.default(o)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    settings = get_settings()
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.from_mapping(
        # HIRING_JOBS_SECRET_KEY, else the key kept in the data directory.
        SECRET_KEY=secret_key(settings),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + UPLOAD_OVERHEAD_BYTES,
        MAX_UPLOAD_BYTES=settings.max_upload_bytes,
        FILES_DIR=settings.files_dir,
        DATABASE_URL=None,  # None: hiring_jobs.db.database_url()
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="hiring_jobs_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        # Seconds between self-refreshes of the admin pages; 0 turns them off.
        REFRESH_SECONDS=10,
    )
    if test_config:
        app.config.update(test_config)

    db.init_app(app)
    request_id.init_app(app)
    tracing.init_app(app)
    validation.init_app(app)
    authentication.init_app(app, settings)
    security.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    masking.init_app(app)

    from web import api, auth, health, pages
    from web.admin import bp as admin_bp

    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api.bp)
    return app
