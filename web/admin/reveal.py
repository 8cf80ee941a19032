"""POST /admin/reveal: an operator sees one masked value unmasked; the reveal is audited."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from web.admin import bp
from web.common import actor
from web.db import get_session
from web.queries import reveal as reveal_queries
from web.redirects import redirect_target
from web.security import operator_required
from web.validation import parse_id

# The answer holds personal data: no browser or proxy keeps a copy.
NO_STORE = {"Cache-Control": "no-store"}


@bp.post("/reveal")
@operator_required
def reveal() -> ResponseReturnValue:
    row_id = parse_id(request.form.get("id", ""), "id")
    revealed = reveal_value(request.form.get("source", ""), row_id, via="web")
    back = redirect_target(request.form.get("next"))
    page = render_template("admin/reveal.html", revealed=revealed, back=back)
    return page, 200, NO_STORE


def reveal_value(source: str, row_id: int, *, via: str) -> reveal_queries.Revealed:
    """Shared with the API: 400 for an unknown source, 404 for an unknown id."""
    session = get_session()
    try:
        revealed = reveal_queries.reveal(
            session, actor=actor(), source=source, row_id=row_id, via=via
        )
    except reveal_queries.UnknownSource as exc:
        abort(400, description=str(exc))
    except reveal_queries.NotFound as exc:
        abort(404, description=str(exc))
    session.commit()
    return revealed
