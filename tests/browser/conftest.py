"""A real Chromium (Debian's, installed here when missing) against the app on a real server.

`playwright install` cannot download browsers on our machines, so Playwright drives the
distribution's /usr/bin/chromium. CI runs as root: the session fixture installs it with
apt-get if it is missing, and fails loudly (never skips) when that is impossible.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from werkzeug.serving import make_server

from tests.web.conftest import accounts  # noqa: F401  (the same accounts as the web tests)
from web import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing and apt-get is not available to install it")
    result = subprocess.run(
        "DEBIAN_FRONTEND=noninteractive apt-get update -q"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium",
        shell=True,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(
            "could not install Debian's chromium for the browser tests "
            f"(apt-get exited {result.returncode}): {result.stderr.strip()[-2000:]}"
        )


# Module scope: while Playwright's sync API is started, this thread counts as running an
# event loop, and later tests that call asyncio.run() (real workers) would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    ensure_chromium()
    with sync_playwright() as found:
        yield found


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def live_app(request: pytest.FixtureRequest) -> Flask:
    request.getfixturevalue("accounts")
    # The cookie stays Secure as in production: Chromium accepts it on http://127.0.0.1.
    return create_app({"TESTING": True, "REFRESH_SECONDS": 0})


@pytest.fixture
def base_url(live_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    opened = context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())  # the confirm() before actions
    yield opened
    context.close()
