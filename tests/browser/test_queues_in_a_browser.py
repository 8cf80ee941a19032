"""An operator pauses a queue in a real browser and reads why a waiting job does not run."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.browser.test_admin_in_a_browser import log_in
from tests.web.helpers import ADMIN, defer_jobs


def test_operator_pauses_a_queue_then_reads_why_its_waiting_job_does_not_run(
    page: Page, base_url: str, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    log_in(page, base_url, *ADMIN)
    page.get_by_role("link", name="Queues", exact=True).click()
    row = page.locator("tr[data-queue='default']")
    row.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash.ok")).to_contain_text("Queue default is paused")
    expect(page.locator("tr[data-queue='default']")).to_contain_text("paused")

    page.goto(f"{base_url}/admin/jobs/{job_id}")
    reason = page.locator("[data-reason='queue_paused']")
    expect(reason).to_contain_text(f"its queue default is paused by {ADMIN[0]}")
    reason.get_by_role("link", name="queue default").click()
    page.get_by_role("button", name="Resume").first.click()
    expect(page.locator(".flash.ok")).to_contain_text("Queue default is resumed")
    page.goto(f"{base_url}/admin/jobs/{job_id}")
    expect(page.locator("[data-reason='queue_paused']")).to_have_count(0)
    expect(page.locator("[data-reason='no_worker']")).to_contain_text(
        "no live worker serves queue default"
    )
