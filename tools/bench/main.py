"""The benchmark run behind `hiring-jobs bench`: sections, rounds, the printed table.

Every figure is a median over rounds taken in this run, contenders interleaved round by
round, so the ratios compare like with like on a shared, noisy machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hiring_jobs.cli_support import progress_bar
from hiring_jobs.progress import silent
from tools.bench import (
    backlog,
    drain,
    enqueue,
    fairness,
    growth,
    isolation,
    latency,
    memory,
    resume,
    snapshot,
    writes,
)
from tools.bench import redis_celery as bench_redis
from tools.bench.common import (
    Bench,
    BenchError,
    fresh_database,
    load_average,
    median,
    server_facts,
)

SECTIONS = (
    "drain", "enqueue", "latency", "resume", "isolation", "writes", "backlog", "snapshot",
    "growth", "memory", "middleware", "fairness",
)  # fmt: skip
DEFAULT_SECTIONS = (
    "drain", "enqueue", "latency", "resume", "isolation", "writes", "backlog", "memory"
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Sizes:
    rounds: int
    jobs: int
    defer_iterations: int
    batch: int
    probes: int
    resumes: int
    history: int
    memory_small: int
    memory_large: int
    backlog: int  # jobs queued before the backlog phase
    window_seconds: float  # each phase of the backlog section
    hold_seconds: float  # each phase of the held-snapshot section


FULL = Sizes(3, 20_000, 300, 10_000, 500, 240, 5_000_000, 1_000, 100_000, 100_000, 30, 300)
QUICK = Sizes(1, 300, 30, 2_000, 25, 6, 20_000, 100, 1_000, 3_000, 3, 4)


@dataclasses.dataclass(frozen=True)
class Options:
    quick: bool = False
    sections: tuple[str, ...] = DEFAULT_SECTIONS
    rounds: int | None = None
    jobs: int | None = None
    history: int | None = None
    install: bool = True
    keep_database: bool = False
    json_path: Path | None = None
    compare_tree: Path | None = None
    worker_env: tuple[tuple[str, str], ...] = ()

    def sizes(self) -> Sizes:
        base = QUICK if self.quick else FULL
        overrides = {"rounds": self.rounds, "jobs": self.jobs, "history": self.history}
        return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v})


@dataclasses.dataclass
class Row:
    section: str
    measurement: str
    value: str
    target: str = ""
    verdict: str = ""  # "met", "MISSED", "skipped", or empty (context only)


@dataclasses.dataclass
class Report:
    rows: list[Row] = dataclasses.field(default_factory=list)
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, *row: str) -> None:
        self.rows.append(Row(*row))

    def check(self, section: str, what: str, value: str, target: str, met: bool) -> None:
        self.rows.append(Row(section, what, value, target, "met" if met else "MISSED"))


def run(options: Options) -> int:
    sizes = options.sizes()
    load_before = load_average()
    report = Report()
    with _scratch() as tmp, fresh_database(_server_url(), keep=options.keep_database) as url:
        _point_hiring_jobs_at(url, tmp)
        bench = Bench(
            url=url,
            tmp=tmp,
            quick=options.quick,
            rounds=sizes.rounds,
            processes=_processes(),
            concurrency=_concurrency(),
            jobs=sizes.jobs,
            compare_tree=options.compare_tree,
            worker_env=dict(options.worker_env),
        )
        header = _header(bench, sizes, load_before, server_facts(url))
        bench.log(header[0])
        chosen = [section for section in SECTIONS if section in options.sections]
        with progress_bar("bench") as status:
            bench.status = None if status is silent else status
            if bench.status is not None:  # the bar's label says what runs; keep it readable
                logging.getLogger().setLevel(logging.WARNING)
            for done, section in enumerate(chosen):
                bench.sections_done = (done, len(chosen))
                bench.log(f"section {section}")
                _run_section(section, bench, sizes, options, report)
            bench.sections_done = (len(chosen), len(chosen))
            bench.log("done")
            bench.status = None
    header.append(f"load average after: {load_average()}")
    print(format_table(header, report.rows))
    if options.json_path:
        rows = [dataclasses.asdict(row) for row in report.rows]
        options.json_path.write_text(json.dumps({"header": header, "rows": rows}, indent=2))
    return 0


def _run_section(name: str, bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    runner: Callable[..., None] = globals()[f"section_{name}"]
    try:
        runner(bench, sizes, options, report)
    except BenchError as exc:
        bench.log(f"section {name} failed: {exc}")
        report.add(name, "(section failed)", str(exc).splitlines()[0][:70], "", "FAILED")


# --- sections -----------------------------------------------------------------------


def section_drain(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    primary = drain.ours(bench)
    fast_path = drain.ours_declared(bench, "async")
    contenders = [
        primary,
        drain.ours_declared(bench, "thread"),
        fast_path,
        drain.stock_defaults(),
        drain.stock_same_shape(bench),
    ]
    if bench.worker_env:
        contenders.append(drain.ours_defaults(bench))
    if bench.compare_tree is not None:
        contenders.append(drain.ours_from_tree(bench, bench.compare_tree))
    results: dict[str, list[float]] = {c.label: [] for c in contenders}
    celery_skip = bench_redis.ensure_celery(options.install, bench.log)
    if celery_skip is None and bench_redis.redis_server_binary() is None:
        celery_skip = "redis-server not found (Debian package redis-server)"
    with _maybe_redis(bench, celery_skip) as redis:
        for index in range(sizes.rounds):
            shift = index % len(contenders)  # a different one goes first each round
            for contender in contenders[shift:] + contenders[:shift]:
                rate = drain.drain_round(bench, contender, sizes.jobs)
                bench.log(f"drain round {index + 1}: {contender.label}: {rate:,.0f} jobs/s")
                results[contender.label].append(rate)
            if redis is not None:
                rate = drain.celery_round(bench, redis, sizes.jobs)
                bench.log(f"drain round {index + 1}: {CELERY}: {rate:,.0f} tasks/s")
                results.setdefault(CELERY, []).append(rate)
    _report_drain(bench, sizes, report, (primary.label, fast_path.label), results, celery_skip)


CELERY = "Celery + Redis"
STOCK = "stock Procrastinate"


def _report_drain(
    bench: Bench,
    sizes: Sizes,
    report: Report,
    labels: tuple[str, str],
    results: dict[str, list[float]],
    celery_skip: str | None,
) -> None:
    """`labels`: our worker as deployed (sync no-op in a child process) and with the
    no-op on the async fast path. The 2x Celery target is the fast path's: a child
    process per sync task (killable at its hard limit) costs a process round trip."""
    primary, fast_path = labels
    rates = {label: median(values) for label, values in results.items()}
    report.raw["drain"] = results
    shape = f"{bench.processes} proc x {bench.concurrency}"
    details = {
        STOCK: "CLI defaults: 1 proc x 1, default pool",
        CELERY: f"prefork {bench.processes}, acks late, log level INFO, Redis without AOF",
    }
    for label, rate in rates.items():
        rounds = " / ".join(f"{value:,.0f}" for value in results[label])
        report.add(
            "drain", f"{label} ({details.get(label, shape)})", f"{rate:,.0f} jobs/s ({rounds})"
        )
    ours = rates[primary]
    for label, rate in rates.items():
        if label not in (primary, STOCK, CELERY):
            report.add("drain", f"ours / {label}", f"{ours / rate:.2f}x")
    stock = rates[STOCK]
    report.check(
        "drain", "ours / stock defaults", f"{ours / stock:.2f}x", ">= 4x", ours >= 4 * stock
    )
    if CELERY in rates:
        celery = rates[CELERY]
        fast = rates[fast_path]
        report.add(
            "drain", f"ours (sync no-op in a child process) / {CELERY}", f"{ours / celery:.2f}x"
        )
        report.check(
            "drain",
            f"async fast path / {CELERY}",
            f"{fast / celery:.2f}x",
            ">= 2x",
            fast >= 2 * celery,
        )
    else:
        report.add("drain", CELERY, "not run", ">= 2x", f"skipped: {celery_skip}")
    report.raw["max_throughput"] = ours
    report.add("drain", "jobs per round (rounds in brackets)", f"{sizes.jobs:,}")


def section_enqueue(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    singles = [enqueue.single_defer(bench, sizes.defer_iterations) for _ in range(sizes.rounds)]
    extra_ms = median([s.extra_ms for s in singles])
    trips = singles[0]
    report.add(
        "enqueue",
        "app write + commit, no defer",
        f"{median([s.bare_ms for s in singles]):.2f} ms ({trips.bare_round_trips} round trips)",
    )
    report.add(
        "enqueue", "one SELECT 1 round trip", f"{median([s.select1_ms for s in singles]):.3f} ms"
    )
    report.add("enqueue", "extra time of one defer in the transaction", f"{extra_ms:.2f} ms")
    report.check(
        "enqueue",
        "extra round trips of one defer",
        str(trips.extra_round_trips),
        "<= 1",
        trips.extra_round_trips <= 1,
    )
    upstream, fast = [], []
    for _ in range(sizes.rounds):
        upstream.append(enqueue.batch_enqueue(bench, sizes.batch))
        fast.append(enqueue.batch_enqueue(bench, sizes.batch, fast=True))
    rate, fast_rate = median(upstream), median(fast)
    batch = f"{sizes.batch:,} jobs"
    report.check(
        "enqueue",
        f"queue.defer.batch_defer, {batch}",
        f"{rate:,.0f} jobs/s",
        ">= 20,000/s",
        rate >= 20_000,
    )
    report.check(
        "enqueue",
        f"queue.fast_defer.batch_insert, {batch}",
        f"{fast_rate:,.0f} jobs/s",
        ">= 20,000/s",
        fast_rate >= 20_000,
    )


def section_latency(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    contender = drain.ours(bench)
    top = report.raw.get("max_throughput") or drain.drain_round(bench, contender, sizes.jobs)
    half = top / 2
    for label, rate in (("idle", 0.0), (f"half load ({half:,.0f} jobs/s)", half)):
        samples = [
            latency.measure(bench, contender, sizes.probes, rate) for _ in range(sizes.rounds)
        ]
        p50 = median([s.p50_ms for s in samples])
        p99 = median([s.p99_ms for s in samples])
        worst = max(s.max_ms for s in samples)
        n = samples[0].samples
        if rate:
            report.check("latency", f"p50 at {label}", f"{p50:.1f} ms", "< 5 ms", p50 < 5)
            report.check(
                "latency", f"p99 at {label}", f"{p99:.1f} ms (max {worst:.0f})", "< 20 ms", p99 < 20
            )
        else:
            report.add(
                "latency",
                f"p50 / p99 at {label}",
                f"{p50:.1f} / {p99:.1f} ms (max {worst:.0f}, {n}/round)",
            )


def section_resume(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    """Parsing runs in task child processes (queue/children.py), one per slot: at
    production concurrency one worker process already parses on every core, so adding a
    process adds no cores. One parse at a time per process shows scaling by processes."""
    pdfs = resume.demo_pdfs(bench)
    shapes = [(1, bench.concurrency), (2, bench.concurrency), (1, 1), (2, 1)]
    rounds: dict[tuple[int, int], list[resume.ParseRound]] = {shape: [] for shape in shapes}
    for index in range(sizes.rounds):
        for processes, concurrency in shapes:
            result = resume.parse_round(bench, pdfs, sizes.resumes, processes, concurrency)
            bench.log(f"resume round {index + 1}: {processes} x {concurrency}: {result}")
            rounds[(processes, concurrency)].append(result)
    rates = {shape: median([r.rate for r in results]) for shape, results in rounds.items()}
    for (processes, concurrency), rate in rates.items():
        cpu = median([r.worker_cpu_ms for r in rounds[(processes, concurrency)]])
        postgres = median([r.postgres_cpu_ms for r in rounds[(processes, concurrency)]])
        report.add(
            "resume",
            f"{sizes.resumes} demo PDFs, {processes} proc x {concurrency}",
            f"{rate:,.1f} resumes/s (CPU/resume: worker {cpu:.0f} ms, PostgreSQL {postgres:.1f})",
        )
    production = rates[(2, bench.concurrency)] / rates[(1, bench.concurrency)]
    report.add(
        "resume", f"1 -> 2 processes at concurrency {bench.concurrency}", f"{production:.2f}x"
    )
    serial = rates[(2, 1)] / rates[(1, 1)]
    report.check(
        "resume",
        "1 -> 2 processes, one parse at a time each",
        f"{serial:.2f}x",
        ">= 1.8x",
        serial >= 1.8,
    )


def section_isolation(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    """An email's pickup delay behind a backlog of slow parses: per-queue slots against
    one shared pool, in the same run."""
    slow, probes = (8, 10) if bench.quick else (16, 50)
    results = {shape: [] for shape in isolation.SHAPES}  # type: dict[str, list[isolation.Isolation]]
    for index in range(sizes.rounds):
        for shape, queues in isolation.SHAPES.items():
            result = isolation.measure(bench, queues, slow, probes)
            bench.log(f"isolation round {index + 1}: {shape}: {result}")
            results[shape].append(result)
    for shape, queues in isolation.SHAPES.items():
        p50 = median([r.p50_ms for r in results[shape]])
        p99 = median([r.p99_ms for r in results[shape]])
        rss = median([r.children_rss_mib for r in results[shape]])
        label = f"email pickup behind {slow} slow parses, {shape} ({queues})"
        value = f"p50 {p50:,.0f} / p99 {p99:,.0f} ms; task children {rss:,.0f} MiB PSS"
        if shape == "per-queue slots":
            report.check("isolation", label, value, "p99 < 1 s", p99 < 1000)
        else:
            report.add("isolation", label, value)


def section_writes(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    """WAL, disk and rows written per no-op job: ours against stock Procrastinate."""
    count = sizes.jobs
    ours: list[writes.Writes] = []
    stock: list[writes.Writes] = []
    with writes.stock_database(bench) as stock_bench:
        for index in range(sizes.rounds):
            ours.append(writes.measure(bench, drain.ours(bench), count))
            stock.append(writes.measure(stock_bench, drain.stock_same_shape(stock_bench), count))
            bench.log(
                f"writes round {index + 1}: ours {ours[-1].per_job()}; stock {stock[-1].per_job()}"
            )
    mine, theirs = _median_writes(ours), _median_writes(stock)
    report.add("writes", f"per job, ours ({count:,} no-op jobs)", mine.per_job())
    report.add("writes", "per job, stock Procrastinate (its schema only)", theirs.per_job())
    ratio = mine.wal_bytes / max(theirs.wal_bytes, 1)
    report.check(
        "writes", "WAL bytes per job, ours / stock", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5
    )
    disk = mine.disk_bytes / max(theirs.disk_bytes, 1)
    report.add("writes", "disk growth per job, ours / stock", f"{disk:.2f}x")


def _median_writes(values: list[writes.Writes]) -> writes.Writes:
    return writes.Writes(
        jobs=values[0].jobs,
        wal_bytes=int(median([v.wal_bytes for v in values])),
        disk_bytes=int(median([v.disk_bytes for v in values])),
        rows=int(median([v.rows for v in values])),
    )


# Above what 2 cores complete, so both phases measure capacity, not the producer.
BACKLOG_PRODUCER_RATE = 2_000.0
SNAPSHOT_PRODUCER_RATE = 100.0


def section_fairness(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    """Fair share between keys: B's one job behind A's backlog, keyed and not; and what a
    fetch costs with `sizes.backlog` jobs waiting, keyed and not."""
    costs = fairness.fetch_cost(bench, sizes.backlog)
    for scenario, ms in costs.items():
        report.add(
            "fairness",
            f"fetch of {fairness.FETCH_FREE} jobs, {sizes.backlog:,} waiting, {scenario}",
            f"{ms:.2f} ms",
        )
    backlog_size = 200 if bench.quick else 2_000
    slots = 4
    results: dict[bool, list[fairness.Pickup]] = {True: [], False: []}
    for index in range(sizes.rounds):
        for fair in (True, False):
            result = fairness.measure(bench, fair=fair, backlog=backlog_size, slots=slots)
            bench.log(f"fairness round {index + 1}: {'keyed' if fair else 'by id'}: {result}")
            results[fair].append(result)
    for fair in (True, False):
        position = median([r.position for r in results[fair]])
        delay = median([r.delay_ms for r in results[fair]])
        shape = "fair share (keyed by tenant)" if fair else "no key (by id)"
        label = f"B's job behind A's {backlog_size:,}, {slots} slots, {shape}"
        value = f"position {position:,.0f}, pickup {delay:,.0f} ms"
        if fair:
            limit = 2 * slots
            report.check("fairness", label, value, f"position <= {limit}", position <= limit)
        else:
            report.add("fairness", label, value)


def section_backlog(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    """Completion with a standing backlog against the same worker on an empty queue."""
    results = []
    for index in range(sizes.rounds):
        loaded_first = index % 2 == 1  # mirrored rounds: ELLE, then LEEL (backlog.py)
        result = backlog.measure(
            bench,
            drain.ours(bench),
            sizes.backlog,
            BACKLOG_PRODUCER_RATE,
            sizes.window_seconds,
            loaded_first=loaded_first,
        )
        empty_windows = " / ".join(f"{w.completed_per_second:,.0f}" for w in result.empty)
        loaded_windows = " / ".join(f"{w.completed_per_second:,.0f}" for w in result.loaded)
        bench.log(
            f"backlog round {index + 1} ({'LEEL' if loaded_first else 'ELLE'}):"
            f" empty {empty_windows}/s, with {sizes.backlog:,} queued {loaded_windows}/s"
            f" ({result.ratio:.2f}x)"
        )
        results.append(result)
    empty = median([r.empty_rate for r in results])
    loaded = median([r.loaded_rate for r in results])
    ratio = median([r.ratio for r in results])
    rounds = ", ".join(f"{r.ratio:.2f}x" for r in results)
    offered = f"producer at {BACKLOG_PRODUCER_RATE:,.0f}/s for {sizes.window_seconds:.0f} s"
    report.add(
        "backlog", f"completion, empty queue ({offered}, 2 windows a round)", f"{empty:,.0f} jobs/s"
    )
    report.add(
        "backlog",
        f"completion, {sizes.backlog:,} jobs queued first (2 windows a round)",
        f"{loaded:,.0f} jobs/s",
    )
    report.check(
        "backlog", f"backlog / empty (rounds: {rounds})", f"{ratio:.2f}x", ">= 0.9x", ratio >= 0.9
    )


def section_snapshot(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    """An idle transaction holding an XID: ours clean, ours held, stock held (one round)."""
    rate, seconds = SNAPSHOT_PRODUCER_RATE, sizes.hold_seconds
    clean = snapshot.measure(bench, drain.ours(bench), rate, seconds, hold=False)
    held = snapshot.measure(bench, drain.ours(bench), rate, seconds, hold=True)
    with writes.stock_database(bench) as stock_bench:
        stock = snapshot.measure(
            stock_bench, drain.stock_same_shape(stock_bench), rate, seconds, hold=True
        )
    phase = f"{rate:,.0f} jobs/s for {seconds:.0f} s"
    for label, result in (
        ("ours, clean", clean),
        ("ours, XID held", held),
        ("stock, XID held", stock),
    ):
        report.add(
            "snapshot",
            f"{label} ({phase})",
            f"{result.completed_per_second:,.0f} jobs/s, {result.pickup()}",
        )
        report.add("snapshot", f"{label}: dead tuples", result.dead())
        report.add(
            "snapshot",
            f"{label}: procrastinate_jobs dead versions per finished job",
            f"{result.dead_per_finished_job:.2f}",
        )
    # Per finished job, not the share: a contender that falls behind keeps its jobs live
    # and its share low (snapshot.py). n_dead_tup is an estimate: 0.1 of slack.
    ours, theirs = held.dead_per_finished_job, stock.dead_per_finished_job
    report.check(
        "snapshot",
        "procrastinate_jobs dead versions per finished job, XID held, ours vs stock",
        f"{ours:.2f} vs {theirs:.2f}",
        "<= stock (+0.1)",
        ours <= theirs + 0.1,
    )


def section_growth(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    contender = drain.ours(bench)
    empty = [drain.drain_round(bench, contender, sizes.jobs) for _ in range(sizes.rounds)]
    empty_start = growth.median_start_stop(bench, sizes.rounds)
    seconds = growth.populate_history(bench, sizes.history)
    bench.log(f"history of {sizes.history:,} jobs loaded in {seconds:.0f} s")
    full = [
        drain.drain_round(bench, contender, sizes.jobs, reset=False) for _ in range(sizes.rounds)
    ]
    full_start = growth.median_start_stop(bench, sizes.rounds)
    empty_rate, full_rate = median(empty), median(full)
    loss = 1 - full_rate / empty_rate
    hist = f"{sizes.history:,} finished"
    report.add("growth", "drain, empty history", f"{empty_rate:,.0f} jobs/s")
    report.add("growth", f"drain, {hist}", f"{full_rate:,.0f} jobs/s")
    report.check("growth", "throughput lost to history", f"{loss:+.1%}", "< 10%", loss < 0.10)
    grew = full_start.start_seconds - empty_start.start_seconds
    report.add("growth", "worker start, empty", f"{empty_start.start_seconds:.2f} s")
    report.check(
        "growth",
        f"worker start, {hist}",
        f"{full_start.start_seconds:.2f} s ({grew:+.2f} s)",
        "no growth (< +10%)",
        full_start.start_seconds <= empty_start.start_seconds * 1.10,
    )
    report.add(
        "growth",
        "worker stop (SIGTERM -> exit), empty / history",
        f"{empty_start.stop_seconds:.2f} / {full_start.stop_seconds:.2f} s",
    )


def section_memory(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    result = memory.measure(bench, sizes.memory_small, sizes.memory_large)
    mib = 1024 * 1024
    report.add(
        "memory",
        f"worker RSS after {result.jobs_small:,} jobs",
        f"{result.small_bytes / mib:.1f} MiB",
    )
    report.check(
        "memory",
        f"worker RSS after {result.jobs_large:,} jobs",
        f"{result.large_bytes / mib:.1f} MiB ({result.growth:+.1%})",
        "< +10%",
        result.growth < 0.10,
    )


def section_middleware(bench: Bench, sizes: Sizes, options: Options, report: Report) -> None:
    variants = {
        "all three (production)": {},
        "all three, log level WARNING": {"HIRING_JOBS_LOG_LEVEL": "WARNING"},
        "without record_attempts": {"BENCH_MIDDLEWARE": "context,execution"},
        "none": {"BENCH_MIDDLEWARE": "none"},
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(sizes.rounds):
        for name, env in variants.items():
            results[name].append(drain.drain_round(bench, drain.ours(bench, **env), sizes.jobs))
    base = median(results["all three (production)"])
    for name, values in results.items():
        rate = median(values)
        report.add(
            "middleware", f"drain, middleware: {name}", f"{rate:,.0f} jobs/s ({rate / base:.2f}x)"
        )


# --- set-up and output --------------------------------------------------------------


@contextlib.contextmanager
def _maybe_redis(bench: Bench, skip: str | None) -> Iterator[bench_redis.Redis | None]:
    if skip is not None:
        bench.log(f"Celery rows skipped: {skip}")
        yield None
        return
    with bench_redis.running_redis(bench) as redis:
        yield redis


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hiring-jobs-bench-") as tmp:
        yield Path(tmp)


def _server_url() -> str:
    """DATABASE_URL's server, else the embedded one (started, or joined if running)."""
    from hiring_jobs import db

    return db.database_url()


def _point_hiring_jobs_at(url: str, tmp: Path) -> None:
    """In this process too, hiring_jobs' seams (settings, engine) now mean the bench database."""
    from hiring_jobs import db, settings

    os.environ["DATABASE_URL"] = url
    os.environ["HIRING_JOBS_DATA_DIR"] = str(tmp / "data")
    for cached in (settings.get_settings, db.database_url, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()


def _processes() -> int:
    from hiring_jobs.settings import get_settings

    return get_settings().worker_processes


def _concurrency() -> int:
    from hiring_jobs.settings import get_settings

    # Slots per queue for the drain's one queue; 8 unless HIRING_JOBS_WORKER_CONCURRENCY says.
    return get_settings().worker_concurrency or 8


def _header(bench: Bench, sizes: Sizes, load: str, server: str) -> list[str]:
    mode = "quick" if bench.quick else "full"
    return [
        f"hiring-jobs bench ({mode}), {time.strftime('%Y-%m-%d %H:%M')}, "
        f"medians of {sizes.rounds} round(s)",
        f"load average before: {load}",
        f"PostgreSQL: {server}",
        f"workers: {bench.processes} processes x concurrency {bench.concurrency}"
        f"{' with ' + str(bench.worker_env) if bench.worker_env else ''}; "
        f"Python {sys.version.split()[0]}",
    ]


def format_table(header: list[str], rows: list[Row]) -> str:
    columns = ("section", "measurement", "value", "target", "verdict")
    cells = [columns] + [tuple(getattr(r, c) for c in columns) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [*header, ""]
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
