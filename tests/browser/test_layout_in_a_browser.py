"""The admin pages at a laptop's 1366x900: no page scrolls sideways, the top bar spans the
page, and the jobs list's search and housekeeping toggle work in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.demo.data import load_demo_data
from hiring_jobs.settings import get_settings
from tests.browser.test_admin_in_a_browser import log_in
from tests.web.helpers import ADMIN, defer_jobs, run_worker_in_thread

LAPTOP = {"width": 1366, "height": 900}
LIST_PAGES = [
    "/admin/",
    "/admin/jobs",
    "/admin/jobs?housekeeping=1",
    "/admin/dead-letters",
    "/admin/dead-letters/jobs?task=tests.fail",
    "/admin/dead-letters/history",
    "/admin/periodic",
    "/admin/queues",
    "/admin/queues/default",
    "/admin/workers",
    "/admin/tasks",
    "/admin/tasks?window=1h",
    "/admin/tasks/tests.fail",
    "/admin/alerts",
    "/admin/outbox",
    "/admin/audit",
]
# Long, unbroken text where operators meet it: errors quoting paths and URLs, arguments.
LONG_ERROR = (
    "SMTP 550 from smtp://relay.mail-provider.example.net:587/v2/accounts/talentloop-production/"
    "messages?batch=0f7c2a61b94d4e3f8a1c5d2e6b7f9a0c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8 at the relay"
)


@pytest.fixture
def demo(session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo data, left for the worker the `busy_system` fixture runs (its failures have
    long exception names)."""
    monkeypatch.delenv("HIRING_JOBS_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    with session_factory() as session, session.begin():
        load_demo_data(session, get_settings().files_dir)


@pytest.fixture
def busy_system(session_factory: sessionmaker[Session]) -> None:
    """Failures with long errors and arguments, successes, waiting and housekeeping jobs."""
    defer_jobs(session_factory, "tests.fail", [{"message": LONG_ERROR}] * 3)
    defer_jobs(session_factory, "tests.fail", [{"message": "the upload is not a PDF"}])
    defer_jobs(session_factory, "tests.echo", [{"value": {"ids": list(range(40))}}] * 3)
    run_worker_in_thread()
    defer_jobs(session_factory, "queue.rollup_throughput", [{"timestamp": 1}])
    defer_jobs(session_factory, "tests.echo", [{"value": "waiting"}])


@pytest.mark.usefixtures("demo", "busy_system")
def test_no_list_page_scrolls_sideways_at_1366_by_900(
    page: Page, base_url: str, session_factory: sessionmaker[Session]
) -> None:
    page.set_viewport_size(LAPTOP)
    log_in(page, base_url, *ADMIN)
    with session_factory() as session:
        failed = session.scalar(
            text("SELECT max(id) FROM procrastinate_jobs WHERE status = 'failed'")
        )
    # A failed job's page too: its long error, the task's frames and the full traceback.
    for path in [*LIST_PAGES, f"/admin/jobs/{failed}"]:
        page.goto(base_url + path)
        widths = page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth,
                window: window.innerWidth,
                topbar: document.querySelector('header.topbar').getBoundingClientRect().width,
            })"""
        )
        assert widths["page"] <= widths["window"], f"{path} is {widths['page']} px wide"
        assert widths["topbar"] == widths["page"], f"{path}: the top bar stops short"


@pytest.mark.usefixtures("busy_system")
def test_the_jobs_list_finds_errors_by_text_and_shows_housekeeping_on_request(
    page: Page, base_url: str
) -> None:
    page.set_viewport_size(LAPTOP)
    log_in(page, base_url, *ADMIN)
    page.get_by_role("link", name="Jobs", exact=True).click()
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(8)
    expect(page.locator("table.jobs")).not_to_contain_text("queue.rollup_throughput")

    page.get_by_label("Error contains").fill("AT THE relay")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("SMTP 550")
    for header in ("Started", "Runtime", "Worker"):
        expect(page.locator("table.jobs thead")).to_contain_text(header)

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Task").fill("ech")  # part of a name
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(4)

    page.get_by_role("link", name="Clear").click()
    page.get_by_role("link", name="Show housekeeping jobs").click()
    expect(rows).to_have_count(9)
    expect(page.locator("table.jobs")).to_contain_text("queue.rollup_throughput")
    page.get_by_role("link", name="Hide housekeeping jobs").click()
    expect(rows).to_have_count(8)
