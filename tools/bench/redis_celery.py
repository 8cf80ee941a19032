"""Redis and Celery for the baseline rows: our own redis-server on a free loopback port.

Never the machine's shared Redis: a private server (no persistence, like Redis' default
without AOF) started and stopped here. When redis-server or Celery is missing, `start`
says why and the Celery rows are skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from tools.bench.common import PYTHON, Bench, BenchError, Child, wait_quiet, wait_until

QUEUE = "bench"
HOLD_QUEUE = "bench_hold"
CELERY_REQUIREMENT = "celery[redis]>=5.4,<6"


@dataclasses.dataclass
class Redis:
    url: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_celery(install: bool, log: Any) -> str | None:
    """None when Celery and redis-py import; else the reason the Celery rows are skipped."""
    if importlib.util.find_spec("celery") and importlib.util.find_spec("redis"):
        return None
    if not install:
        return "celery/redis-py not installed (pip install 'celery[redis]')"
    log(f"installing {CELERY_REQUIREMENT} into {sys.prefix} for the Celery baseline")
    result = subprocess.run(
        [PYTHON, "-m", "pip", "install", "--quiet", CELERY_REQUIREMENT],
        capture_output=True,
        text=True,
        timeout=600,
    )
    importlib.invalidate_caches()
    if result.returncode != 0 or not importlib.util.find_spec("celery"):
        return f"could not install celery: {result.stderr.strip()[-300:]}"
    return None


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if shutil.which(p)), None
    )


@contextlib.contextmanager
def running_redis(bench: Bench) -> Iterator[Redis]:
    binary = redis_server_binary()
    if binary is None:
        raise BenchError("redis-server not found (Debian: apt-get install redis-server)")
    port = _free_port()
    workdir = bench.tmp / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    redis = Redis(url=f"redis://127.0.0.1:{port}/0", process=process)
    try:
        wait_until(lambda: _pings(redis), timeout=20, what="redis-server", interval=0.1)
        yield redis
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _pings(redis: Redis) -> bool:
    try:
        return bool(redis.client().ping())
    except Exception:  # not up yet
        return False


def publish_held(url: str, count: int) -> None:
    """Publish `count` no-op tasks to the hold queue, which no worker consumes."""
    app, noop = _celery(url)
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            noop.apply_async(queue=HOLD_QUEUE, producer=producer)


# As every Celery deployment in ../shared/seeds/ runs its workers (`--loglevel=info`):
# a line when a task is received and one when it ends, as our worker writes two per job
# at its default level (INFO) and stock Procrastinate's CLI two at its own (INFO).
CELERY_LOG_LEVEL = "INFO"


def celery_worker(bench: Bench, url: str) -> Child:
    command = [PYTHON, "-m", "celery", "-A", "tools.bench.celery_app", "worker"]
    command += ["--pool", "prefork", "--concurrency", str(bench.processes), "-Q", QUEUE]
    command += ["--loglevel", CELERY_LOG_LEVEL, "--without-gossip", "--without-mingle"]
    return Child("celery", command, bench.env(BENCH_REDIS_URL=url), bench.tmp / "logs")


def wait_celery_ready(url: str, worker: Child) -> None:
    app, _ = _celery(url)
    wait_until(
        lambda: bool(app.control.ping(timeout=0.5)),
        timeout=60,
        what="the Celery worker",
        interval=0.2,
        alive=worker.alive,
    )
    time.sleep(0.3)
    wait_quiet()  # as our workers are waited for (common.wait_listening)


def celery_idle(client: Any) -> bool:
    """Nothing queued and nothing delivered but unacknowledged (acks late: still running)."""
    pipe = client.pipeline()
    pipe.llen(QUEUE)
    pipe.hlen("unacked")
    queued, unacked = pipe.execute()
    return queued == 0 and unacked == 0


def tasks_done(url: str) -> int | None:
    """Tasks the worker ran, from its own stats (None when it does not answer)."""
    app, _ = _celery(url)
    stats = app.control.inspect(timeout=2).stats() or {}
    totals = [s.get("total", {}).get("bench.noop", 0) for s in stats.values()]
    return sum(totals) if totals else None


def _celery(url: str) -> tuple[Any, Any]:
    import os

    os.environ["BENCH_REDIS_URL"] = url
    from tools.bench import celery_app as bench_celery_app

    bench_celery_app.app.conf.broker_url = url
    return bench_celery_app.app, bench_celery_app.noop
