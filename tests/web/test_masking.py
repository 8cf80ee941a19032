"""Personal data on the pages and in the API: masked on the server, revealed one value at a
time by an operator, and every reveal audited without the value."""

from __future__ import annotations

import html
from email.message import EmailMessage

import markupsafe
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import audit
from hiring_jobs.models import AuditLogEntry, DeliveryStatus, EmailDelivery, JobAttempt
from tests.support.factories import make_user
from tests.web.helpers import csrf_of, defer_jobs, failed_job, post, post_json, run_worker_in_thread

EMAIL = "alice.smith@example.com"
PHONE = "+33 6 12 34 56 78"
NAME = "Alice Smith"
MESSAGE = f"cannot reach {NAME} <{EMAIL}> or {PHONE}"
# What must never be in a response body but the reveal's.
RAW = (EMAIL, "alice.smith", "12 34 56", NAME)


def assert_masked(body: bytes, where: str) -> None:
    text = body.decode()
    for raw in RAW:
        assert raw not in text, f"{raw!r} in {where}"


def attempt_id(factory: sessionmaker[Session], job_id: int) -> int:
    with factory() as session:
        found = session.scalar(select(JobAttempt.id).where(JobAttempt.job_id == job_id))
    assert found is not None
    return found


def reveal_entries(factory: sessionmaker[Session]) -> list[AuditLogEntry]:
    with factory() as session:
        query = select(AuditLogEntry).where(AuditLogEntry.action == "reveal")
        return list(session.scalars(query.order_by(AuditLogEntry.id)))


def test_pages_and_api_show_arguments_errors_and_tracebacks_masked(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, MESSAGE)
    for url in (
        "/admin/jobs",
        f"/admin/jobs/{job_id}",
        "/admin/dead-letters",
        "/admin/dead-letters/jobs",
        f"/admin/dead-letters/{job_id}",
        "/api/jobs",
        f"/api/jobs/{job_id}",
        f"/api/jobs/{job_id}/status",
        "/api/dead-letters",
        "/api/dead-letters/groups",
        f"/api/dead-letters/{job_id}",
    ):
        response = operator.get(url)
        assert response.status_code == 200, url
        assert_masked(response.data, url)
    page = operator.get(f"/admin/jobs/{job_id}").data.decode()
    assert "A*** S*** &lt;a***@e***.com&gt; or +** * ** ** ** 78" in page
    assert "Traceback" in page and "RuntimeError" in page
    [attempt] = operator.get(f"/api/jobs/{job_id}").get_json()["attempts"]
    assert attempt["error_message"] == "cannot reach A*** S*** <a***@e***.com> or +** * ** ** ** 78"
    assert "RuntimeError: cannot reach A*** S***" in attempt["traceback"]


def test_names_of_the_people_a_job_is_about_are_masked_too(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        user = make_user(session, full_name="Grace Hopper", email="grace@example.org")
        session.commit()
    [job_id] = defer_jobs(
        session_factory, "tests.record", [{"user_id": user.id, "message": "welcome Grace Hopper"}]
    )
    run_worker_in_thread()
    for url in (f"/admin/jobs/{job_id}", f"/api/jobs/{job_id}"):
        body = operator.get(url).data.decode()
        assert "Grace" not in body and "Hopper" not in body and "grace@" not in body, url
    related = operator.get(f"/api/jobs/{job_id}").get_json()["related"]
    assert related[0]["summary"] == "G*** H*** <g***@e***.org>"
    assert "welcome G*** H***" in operator.get(f"/admin/jobs/{job_id}").data.decode()


def test_an_operator_reveals_one_value_and_the_reveal_is_audited(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, MESSAGE)
    page = operator.get(f"/admin/jobs/{job_id}").data.decode()
    assert 'action="/admin/reveal"' in page and 'name="source" value="job_args"' in page

    response = post(operator, "/admin/reveal", {"source": "job_args", "id": str(job_id)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert EMAIL in response.data.decode() and PHONE in response.data.decode()

    api = post_json(
        operator,
        "/api/reveal",
        {"source": "attempt_error", "id": attempt_id(session_factory, job_id)},
    )
    assert api.status_code == 200
    assert api.get_json()["value"] == MESSAGE
    assert api.headers["Cache-Control"] == "no-store"

    first, second = reveal_entries(session_factory)
    assert (first.actor, first.target) == ("admin", f"job_args {job_id}")
    assert first.details == {"source": "job_args", "id": job_id, "via": "web"}
    assert second.target.startswith("attempt_error ") and second.details["via"] == "api"
    for entry in (first, second):
        assert EMAIL not in str(entry.details) and "12 34" not in str(entry.details)
    audit_page = operator.get("/admin/audit")
    assert "reveal" in audit_page.data.decode()
    assert_masked(audit_page.data, "/admin/audit")


def test_a_viewer_cannot_reveal_and_sees_no_button(
    viewer: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, MESSAGE)
    assert 'action="/admin/reveal"' not in viewer.get(f"/admin/jobs/{job_id}").data.decode()
    assert (
        post(viewer, "/admin/reveal", {"source": "job_args", "id": str(job_id)}).status_code == 403
    )
    api = post_json(viewer, "/api/reveal", {"source": "job_args", "id": job_id})
    assert api.status_code == 403
    assert_masked(api.data, "viewer reveal")
    assert reveal_entries(session_factory) == []


def test_a_reveal_needs_the_csrf_token(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, MESSAGE)
    csrf_of(operator)
    form = operator.post("/admin/reveal", data={"source": "job_args", "id": str(job_id)})
    assert form.status_code == 400
    api = operator.post("/api/reveal", json={"source": "job_args", "id": job_id})
    assert api.status_code == 400
    for response in (form, api):
        assert_masked(response.data, "reveal without a token")
    assert reveal_entries(session_factory) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"source": "job_args", "id": 999999}, 404),
        ({"source": "user_email", "id": 999999}, 404),
        ({"source": "users; DROP TABLE users", "id": 1}, 400),
        ({"source": "email", "id": 1}, 400),
        ({"source": "job_args", "id": "1"}, 400),
        ({"source": "job_args"}, 400),
    ],
)
def test_unknown_sources_and_ids_are_refused(
    operator: FlaskClient,
    session_factory: sessionmaker[Session],
    body: dict[str, object],
    status: int,
) -> None:
    assert post_json(operator, "/api/reveal", body).status_code == status
    assert reveal_entries(session_factory) == []


def outbox_email(factory: sessionmaker[Session]) -> int:
    message = EmailMessage()
    message["From"] = "Hiring Jobs <noreply@example.com>"
    message["To"] = f"{NAME} <{EMAIL}>"
    message["Subject"] = f"Your application, {NAME}"
    message.set_content(f"Hello {NAME}, call us back on {PHONE}.")
    message.add_alternative(f"<p>Hello {NAME}</p>", subtype="html")
    with factory() as session:
        make_user(session, full_name=NAME, email=EMAIL)
        delivery = EmailDelivery(
            idempotency_key="k-mask",
            recipient=EMAIL,
            subject=f"Your application, {NAME}",
            template="application_status",
            status=DeliveryStatus.OUTBOX,
            raw_message=message.as_string(),
        )
        session.add(delivery)
        session.commit()
        return delivery.id


def test_the_outbox_masks_recipient_subject_and_message(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    delivery_id = outbox_email(session_factory)
    for url in ("/admin/outbox", f"/admin/outbox/{delivery_id}", "/api/outbox"):
        response = operator.get(url)
        assert response.status_code == 200, url
        assert_masked(response.data, url)
    [listed] = operator.get("/api/outbox").get_json()["emails"]
    assert (listed["recipient"], listed["subject"]) == (
        "a***@e***.com",
        "Your application, A*** S***",
    )
    page = operator.get(f"/admin/outbox/{delivery_id}").data.decode()
    assert "Hello A*** S***, call us back on +** * ** ** ** 78." in page
    for source in ("outbox_recipient", "outbox_subject", "outbox_message"):
        assert f'name="source" value="{source}"' in page

    revealed = post_json(operator, "/api/reveal", {"source": "outbox_recipient", "id": delivery_id})
    assert revealed.get_json()["value"] == EMAIL
    whole = post(operator, "/admin/reveal", {"source": "outbox_message", "id": str(delivery_id)})
    assert f"Hello {NAME}" in whole.data.decode()


def test_audit_details_are_masked_and_revealable(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        entry = audit.record(
            session, actor="cli", action="test.note", target=EMAIL, details={"email": EMAIL}
        )
        session.commit()
        entry_id = entry.id
    for url in ("/admin/audit", "/api/audit"):
        assert_masked(operator.get(url).data, url)
    revealed = post_json(operator, "/api/reveal", {"source": "audit_details", "id": entry_id})
    assert revealed.get_json()["value"] == {"email": EMAIL}


def test_a_name_written_with_html_entities_is_masked_in_the_outbox_too(
    viewer: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    """The HTML part holds `O&#39;Brien` (Jinja's escape): the plain name never matched it."""
    name, address = "Siobhán O'Brien", "siobhan.obrien@example.ie"
    message = EmailMessage()
    message["To"] = f"{name} <{address}>"
    message["Subject"] = f"Your application, {name}"
    message.set_content(f"Hello {name},")
    message.add_alternative(f"<p>Hello {markupsafe.escape(name)},</p>", subtype="html")
    with session_factory() as session:
        make_user(session, full_name=name, email=address)
        delivery = EmailDelivery(
            idempotency_key="k-entities",
            recipient=address,
            subject=f"Your application, {name}",
            template="application_status",
            status=DeliveryStatus.OUTBOX,
            raw_message=message.as_string(),
        )
        session.add(delivery)
        session.commit()
        delivery_id = delivery.id
    page = viewer.get(f"/admin/outbox/{delivery_id}").data.decode()
    for view in (page, html.unescape(page), html.unescape(html.unescape(page))):
        assert "Brien" not in view and "Siobh" not in view
    assert "Hello S*** O***," in html.unescape(html.unescape(page))
