"""Masked by default in a real browser; one click (and a confirm) reveals one value."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.browser.test_admin_in_a_browser import log_in
from tests.web.helpers import ADMIN, failed_job

EMAIL = "ada.lovelace@example.com"


def test_operator_reveals_a_masked_argument(
    page: Page, base_url: str, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, f"mailbox full for {EMAIL}")
    log_in(page, base_url, *ADMIN)
    page.goto(f"{base_url}/admin/jobs/{job_id}")
    expect(page.locator("pre[data-masked]")).to_contain_text("a***@e***.com")
    expect(page.locator("body")).not_to_contain_text(EMAIL)

    page.locator("h3", has_text="Arguments").get_by_role("button", name="reveal").click()
    expect(page.get_by_role("heading", name="Revealed")).to_contain_text(f"job {job_id}")
    expect(page.locator("[data-revealed]")).to_contain_text(EMAIL)
    page.get_by_role("link", name="Back").click()
    expect(page).to_have_url(f"{base_url}/admin/jobs/{job_id}")
    expect(page.locator("body")).not_to_contain_text(EMAIL)
