"""Error responses: JSON bodies for the API and ops endpoints, a page for everything else."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

JSON_PATHS = ("/api/", "/metrics", "/health")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    description = exc.description or exc.name
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.max_content_length or 0
        description = f"the request is larger than the {limit // (1024 * 1024)} MB limit"
    if request.path.startswith(JSON_PATHS):
        return jsonify(error=description, status=status), status
    return render_template(
        "errors/error.html", status=status, title=exc.name, message=description
    ), status
