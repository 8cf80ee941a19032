"""The local mail outbox: what would have been sent, shown without running any of it."""

from __future__ import annotations

from flask import abort, render_template

from hiring_jobs.models import EmailDelivery
from web.admin import bp
from web.db import get_session
from web.queries.outbox import list_outbox, recipient_names, render_message
from web.security import login_required
from web.validation import int_arg

PAGE_SIZE = 50


@bp.get("/outbox")
@login_required
def outbox() -> str:
    session = get_session()
    rows = list_outbox(session, before=int_arg("before"), limit=PAGE_SIZE + 1)
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    names = recipient_names(session, (row.recipient for row in rows))
    return render_template("admin/outbox.html", deliveries=rows, older=older, names=names)


@bp.get("/outbox/<int:delivery_id>")
@login_required
def message(delivery_id: int) -> str:
    session = get_session()
    delivery = session.get(EmailDelivery, delivery_id)
    if delivery is None:
        abort(404, description=f"no email {delivery_id}")
    rendered = render_message(delivery.raw_message) if delivery.raw_message else None
    names = recipient_names(session, [delivery.recipient]).get(delivery.recipient, ())
    return render_template("admin/message.html", delivery=delivery, message=rendered, names=names)
