"""What an operator and a viewer do in a real browser, end to end."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.support.factories import make_user
from tests.web.helpers import ADMIN, VIEWER, defer_jobs, run_worker_in_thread

MISSING_USER_ID = 424242
MARIA_PASSWORD = "maria's own password"


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/")
    expect(page).to_have_url(f"{base_url}/login?next=/admin/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_operator_finds_a_failed_job_reads_its_traceback_and_retries_it(
    page: Page, base_url: str, session_factory: sessionmaker[Session]
) -> None:
    # tests.record writes a notification for a user that does not exist yet: it fails.
    [job_id] = defer_jobs(
        session_factory, "tests.record", [{"user_id": MISSING_USER_ID, "message": "hello"}]
    )
    defer_jobs(session_factory, "tests.fail", [{"message": "unrelated"}])
    run_worker_in_thread()

    log_in(page, base_url, *ADMIN)
    page.get_by_role("link", name="Jobs", exact=True).click()
    page.get_by_label("Status").select_option("failed")
    page.get_by_label("Task").fill("tests.record")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(
        f"{base_url}/admin/jobs?status=failed&queue=&task=tests.record&search=&lock=&args=&since=&until="
    )
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name=str(job_id)).click()

    # The task's own frames first, ending with the error they let out.
    own = page.locator("details.task-frames pre")
    expect(own).to_contain_text("tests/support/tasks.py")
    expect(own).to_contain_text("ForeignKeyViolation")
    with session_factory() as session:  # the cause is fixed: the user now exists
        make_user(session, id=MISSING_USER_ID)
        session.commit()
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash.ok")).to_contain_text("waiting to run again")
    run_worker_in_thread()
    page.reload()
    expect(page.locator("h1 .badge")).to_have_text("succeeded")
    attempts = page.locator("article.attempt")
    expect(attempts).to_have_count(2)
    expect(attempts.last.locator(".badge")).to_have_text("succeeded")


def test_operator_reviews_a_dead_letter_group(
    page: Page, base_url: str, session_factory: sessionmaker[Session]
) -> None:
    defer_jobs(session_factory, "tests.fail", [{"message": "quota exceeded"}] * 2)
    run_worker_in_thread()
    log_in(page, base_url, *ADMIN)
    page.get_by_role("link", name="Dead letters").click()
    expect(page.get_by_role("heading", name="Dead letters")).to_contain_text("2 pending")
    row = page.locator("tbody tr", has_text="tests.fail")
    row.get_by_label("Notes").fill("known quota issue")
    row.get_by_role("button", name="Discard all").click()
    expect(page.locator(".flash.ok")).to_have_text("Discarded 2 failed jobs.")
    page.get_by_role("link", name="Review history").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody tr").first).to_contain_text("known quota issue")


def test_a_viewer_sees_no_actions_and_a_forged_one_is_refused(
    page: Page, base_url: str, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.fail", [{"message": "x"}])
    run_worker_in_thread()
    log_in(page, base_url, *VIEWER)
    page.goto(f"{base_url}/admin/jobs/{job_id}")
    expect(page.get_by_role("heading", name=f"Job {job_id}")).to_be_visible()
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    token = page.evaluate("document.cookie")  # HttpOnly: the session is not readable
    assert "hiring_jobs_session" not in token
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        f"{base_url}/admin/jobs/{job_id}/retry", form={"csrf_token": csrf or ""}
    )
    assert forged.status == 403


def test_an_admin_adds_a_named_operator_whose_actions_carry_their_name(
    page: Page, base_url: str, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    log_in(page, base_url, *ADMIN)
    page.get_by_role("link", name="Accounts").click()
    form = page.get_by_role("form", name="Add an account")
    form.get_by_label("User name").fill("maria.lopez")
    form.get_by_label("Role").select_option("operator")
    form.get_by_label("Password").fill(MARIA_PASSWORD)
    form.get_by_role("button", name="Add account").click()
    expect(page.locator(".flash.ok")).to_have_text("Account maria.lopez added.")
    page.get_by_role("button", name="Log out").click()

    log_in(page, base_url, "maria.lopez", MARIA_PASSWORD)
    expect(page.locator(".who .user")).to_have_text("maria.lopez")
    expect(page.get_by_role("link", name="Accounts")).to_have_count(0)  # operators only
    page.goto(f"{base_url}/admin/jobs/{job_id}")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".flash.ok")).to_have_text(f"Job {job_id} is cancelled.")
    page.get_by_role("link", name="Audit log").click()
    latest = page.locator("table.data tbody tr").first
    expect(latest).to_contain_text("maria.lopez")
    expect(latest).to_contain_text("job.cancel")
    expect(page.locator("table.data tbody tr", has_text="account.add")).to_contain_text("admin")
