"""Smoke test of the benchmark harness: `hiring-jobs bench --quick` on tiny counts runs
every default section end to end and prints its table (the numbers are not checked:
they mean nothing at this size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from pytest_postgresql.executors import NoopExecutor

from tests.support.processes import ROOT, cli_env

pytestmark = pytest.mark.slow

# Every section but growth (5M rows) and middleware (a variant of drain).
SECTIONS = ("drain", "enqueue", "latency", "resume", "isolation", "writes", "backlog")
SECTIONS += ("snapshot", "memory", "fairness")


def _server_url(server: NoopExecutor) -> str:
    """The test server's maintenance database: the harness creates (and drops) its own."""
    auth = quote(server.user, safe="") + (f":{quote(server.password)}" if server.password else "")
    return f"postgresql://{auth}@/postgres?{urlencode({'host': server.host, 'port': server.port})}"


# Ten sections end to end, beside the rest of the suite on 2 cores: minutes when busy.
@pytest.mark.timeout(600)
def test_quick_bench_prints_every_section(pg_server: NoopExecutor, tmp_path: Path) -> None:
    env = cli_env(DATABASE_URL=_server_url(pg_server), HIRING_JOBS_DATA_DIR=str(tmp_path))
    command = [sys.executable, "-m", "hiring_jobs", "bench", "--quick", "--no-install"]
    command += ["--jobs", "60", "--json", str(tmp_path / "bench.json")]
    command += ["--sections", ",".join(SECTIONS)]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    assert "load average before" in table
    for section in SECTIONS:
        assert f"\n{section} " in table, table
    assert "FAILED" not in table, table
    assert "ours / stock defaults" in table
    assert (tmp_path / "bench.json").exists()


def test_a_held_snapshot_phase_that_fell_behind_says_how_many_probes_never_started() -> None:
    """A contender too slow for the offered rate (stock Procrastinate with an XID held)
    is reported, not a failed section: its unstarted probes count as never picked up."""
    from math import inf

    from tools.bench import latency, snapshot

    behind = snapshot.Phase(
        completed_per_second=95.0,
        pickup_p99_ms=inf,
        dead_share={},
        dead_per_finished_job=2.0,
        probes_not_started=6_588,
    )
    assert behind.pickup() == (
        f"pickup p99 over {latency.PROBE_WAIT_SECONDS:.0f} s after the phase"
        " (6,588 probes had not started)"
    )
    on_time = snapshot.Phase(
        completed_per_second=100.0, pickup_p99_ms=12.4, dead_share={}, dead_per_finished_job=2.0
    )
    assert on_time.pickup() == "pickup p99 12 ms"


@pytest.mark.parametrize("loaded_first", [False, True])
def test_a_machine_slowing_steadily_through_a_backlog_round_does_not_bias_its_ratio(
    monkeypatch: pytest.MonkeyPatch, loaded_first: bool
) -> None:
    """Each window 10% slower than the one before, the backlog changing nothing: the
    mirrored round measures 1.00x either way round (one window of each kind: 0.90x or
    1.11x)."""
    from tools.bench import backlog

    rates = iter([1_000.0, 900.0, 800.0, 700.0])
    queued_per_window: list[int] = []

    def drifting_phase(_bench: object, _contender: object, queued: int, *_: float) -> object:
        queued_per_window.append(queued)
        return backlog.Window(completed_per_second=next(rates))

    monkeypatch.setattr(backlog, "phase", drifting_phase)
    result = backlog.measure(None, None, 100_000, 2_000.0, 30.0, loaded_first=loaded_first)  # type: ignore[arg-type]

    assert result.ratio == pytest.approx(1.0)
    assert len(result.empty) == len(result.loaded) == 2
    mirrored = [100_000, 0, 0, 100_000] if loaded_first else [0, 100_000, 100_000, 0]
    assert queued_per_window == mirrored
