"""Error responses: JSON bodies for the API and ops endpoints, a page for everything else."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from web.security import wants_json


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    description = exc.description or exc.name
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.max_content_length or 0
        description = f"the request is larger than the {limit // (1024 * 1024)} MB limit"
    # Headers the error defines (Retry-After of a 429, Allow of a 405), not its body's type.
    headers = [(name, value) for name, value in exc.get_headers() if name != "Content-Type"]
    if wants_json():
        return jsonify(error=description, status=status), status, headers
    page = render_template("errors/error.html", status=status, title=exc.name, message=description)
    return page, status, headers
