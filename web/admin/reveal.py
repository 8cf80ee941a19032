"""POST /admin/reveal: an operator sees one masked value unmasked; the reveal is audited."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from web.admin import bp
from web.common import NO_STORE, reveal_value
from web.redirects import redirect_target
from web.security import operator_required
from web.validation import parse_id


@bp.post("/reveal")
@operator_required
def reveal() -> ResponseReturnValue:
    row_id = parse_id(request.form.get("id", ""), "id")
    revealed = reveal_value(request.form.get("source", ""), row_id, via="web")
    back = redirect_target(request.form.get("next"))
    page = render_template("admin/reveal.html", revealed=revealed, back=back)
    return page, 200, NO_STORE
