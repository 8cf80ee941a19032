"""POST /api/reveal: one masked value, unmasked, for an operator; audited like the page."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from web.api import bp
from web.common import NO_STORE, reveal_value
from web.security import operator_required
from web.validation import int_field, json_body, text_field


@bp.post("/reveal")
@operator_required
def reveal() -> ResponseReturnValue:
    """{"source": "job_args", "id": 123} -> {"source", "id", "label", "value"}."""
    body = json_body()
    row_id = int_field(body, "id")
    assert row_id is not None  # required=True
    revealed = reveal_value(text_field(body, "source", max_length=50), row_id, via="api")
    response = jsonify(
        source=revealed.source, id=revealed.id, label=revealed.label, value=revealed.value
    )
    response.headers.update(NO_STORE)
    return response
