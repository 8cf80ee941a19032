"""Stock Procrastinate: a plain App with its default connector and no middleware.

Run by `procrastinate --app=tools.bench.stock_app.app worker`; the URL comes
from DATABASE_URL (set by the harness to the bench database).
"""

from __future__ import annotations

import os
import time

from procrastinate import App, PsycopgConnector

from tools.bench.tasks import store_probe

app = App(connector=PsycopgConnector(conninfo=os.environ.get("DATABASE_URL", "")))


@app.task(name="bench.noop", queue="default")
def noop() -> None:
    """Same no-op as hiring_jobs' bench.noop."""


@app.task(name="bench.probe", queue="default")
def probe(key: int) -> None:
    store_probe(key, time.time())
