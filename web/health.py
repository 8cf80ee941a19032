"""Liveness: GET /health answers 200 when the database answers, 503 with the reason if not."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from web.db import get_engine

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or type(exc).__name__).strip().splitlines()[0]
        return jsonify(status="unavailable", database="unreachable", reason=reason), 503
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return jsonify(status="ok", database="ok", database_latency_ms=latency_ms)
