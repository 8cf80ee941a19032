"""Background load for the latency benchmark: no-op jobs at a steady rate, in small
transactions (one every 10 ms), until SIGTERM or the time limit.

    python -m tools.bench.load URL JOBS_PER_SECOND MAX_SECONDS
"""

from __future__ import annotations

import signal
import sys
import time

import psycopg

TICK_SECONDS = 0.01


def run(url: str, rate: float, max_seconds: float) -> int:
    stop = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    inserted = 0
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop and time.monotonic() - started < max_seconds:
            due = int(rate * (time.monotonic() - started)) - inserted
            if due > 0:
                conn.execute(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
                    " SELECT 'default', 'bench.noop', '{}' FROM generate_series(1, %s)",
                    (due,),
                )
                inserted += due
            time.sleep(TICK_SECONDS)
    print(f"inserted {inserted} in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
