"""Screenshots of every main admin page, to look at the UI without clicking through it.

    DATABASE_URL=postgresql://... python -m tools.screenshots OUTDIR

Serves the app in this process against DATABASE_URL (with a throwaway admin password),
drives Debian's Chromium (/usr/bin/chromium; `apt-get install chromium`) with Playwright,
and writes one full-page PNG per page into OUTDIR. Shots are not committed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright
from sqlalchemy import text
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A laptop's screen: every page must fit its width.
VIEWPORT = {"width": 1366, "height": 900}
# The account the pages are seen as (its password is new on every run).
USERNAME = "screenshots"
PAGES = (
    ("overview", "/admin/"),
    ("jobs", "/admin/jobs"),
    ("jobs-failed", "/admin/jobs?status=failed"),
    ("dead-letters", "/admin/dead-letters"),
    ("tasks", "/admin/tasks"),
    ("periodic", "/admin/periodic"),
    ("workers", "/admin/workers"),
    ("alerts", "/admin/alerts"),
    ("outbox", "/admin/outbox"),
    ("audit", "/admin/audit"),
)


def serve(password: str) -> tuple[str, object]:
    os.environ.setdefault("HIRING_JOBS_SECURE_COOKIES", "false")
    from hiring_jobs.access import accounts
    from hiring_jobs.db import session_scope
    from hiring_jobs.models import AccountRole
    from hiring_jobs.settings import get_settings

    get_settings.cache_clear()
    with session_scope() as session:
        accounts.put(session, USERNAME, AccountRole.OPERATOR, password, by="tools.screenshots")
    from web import create_app

    app = create_app({"REFRESH_SECONDS": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def first_ids() -> dict[str, Any]:
    """A failed job, an outbox email and the busiest task to show, when there are some."""
    from hiring_jobs.db import session_scope

    with session_scope() as session:
        failed = session.scalar(
            text("SELECT max(id) FROM procrastinate_jobs WHERE status = 'failed'")
        )
        email = session.scalar(text("SELECT max(id) FROM email_deliveries WHERE status = 'outbox'"))
        task = session.scalar(
            text("SELECT task_name FROM job_attempts GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        )
    return {"job": failed, "email": email, "task": task}


def shoot(page: Page, base: str, name: str, path: str, outdir: Path) -> None:
    page.goto(base + path)
    target = outdir / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    # A page wider than the window scrolls sideways: said next to its shot.
    width = page.evaluate("document.documentElement.scrollWidth")
    print(target, "" if width <= VIEWPORT["width"] else f"OVERFLOWS: {width} px wide")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        print("set DATABASE_URL (the data to show)", file=sys.stderr)
        return 2
    args.outdir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    base, server = serve(password)
    ids = first_ids()
    pages = list(PAGES)
    if ids["job"]:
        pages.append(("job-failed", f"/admin/jobs/{ids['job']}"))
    if ids["task"]:
        pages.append(("task", f"/admin/tasks/{ids['task']}"))
    if ids["email"]:
        pages.append(("email", f"/admin/outbox/{ids['email']}"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        shoot(page, base, "login", "/login", args.outdir)
        page.fill("input[name=username]", USERNAME)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        for name, path in pages:
            shoot(page, base, name, path, args.outdir)
        browser.close()
    server.shutdown()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
