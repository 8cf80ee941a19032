"""`hiring-jobs bench`: the performance benchmarks of issue 6 (not part of the test suite).

The harness lives in tools/bench/, next to the tasks and apps its worker processes import;
it runs from a checkout (`pip install -e ".[dev]"`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tools.bench import main

SECTIONS = (
    "drain", "enqueue", "latency", "resume", "isolation", "writes", "backlog", "snapshot",
    "growth", "memory", "middleware", "fairness",
)  # fmt: skip


@click.command("bench")
@click.option("--quick", is_flag=True, help="Small counts, one round: a smoke run.")
@click.option(
    "--sections",
    default="drain,enqueue,latency,resume,isolation,writes,backlog,memory",
    show_default=True,
    help=f"Comma-separated, from: {', '.join(SECTIONS)}.",
)
@click.option("--growth", is_flag=True, help="Add the history-growth section (slow: 5M rows).")
@click.option("--rounds", type=click.IntRange(min=1), default=None, help="Rounds per figure.")
@click.option("--jobs", type=click.IntRange(min=10), default=None, help="Jobs per drain.")
@click.option("--history", type=click.IntRange(min=1), default=None, help="Growth history rows.")
@click.option("--no-install", is_flag=True, help="Do not pip-install Celery if missing.")
@click.option("--keep-database", is_flag=True, help="Keep the bench database afterwards.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
@click.option(
    "--worker-env",
    multiple=True,
    metavar="NAME=VALUE",
    help="A setting for our worker under test, e.g. HIRING_JOBS_WORKER_BATCH=8 (repeatable).",
)
@click.option(
    "--compare-tree",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Another checkout (e.g. before a change) whose worker also drains, side by side.",
)
def bench(
    quick: bool,
    sections: str,
    growth: bool,
    rounds: int | None,
    jobs: int | None,
    history: int | None,
    no_install: bool,
    keep_database: bool,
    json_path: Path | None,
    worker_env: tuple[str, ...],
    compare_tree: Path | None,
) -> None:
    """Measure drain throughput (vs stock Procrastinate and Celery + Redis), enqueue cost,
    pickup latency, resume parsing, growth with history and worker memory; print a table.

    Runs in a fresh database created on DATABASE_URL's server (or the embedded one) and
    dropped at the end; Celery runs on a private redis-server on a free loopback port.
    """
    chosen = tuple(s.strip() for s in sections.split(",") if s.strip())
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        raise click.BadParameter(
            f"unknown section(s): {', '.join(unknown)}", param_hint="--sections"
        )
    if growth and "growth" not in chosen:
        chosen += ("growth",)
    options = main.Options(
        quick=quick,
        sections=chosen,
        rounds=rounds,
        jobs=jobs,
        history=history,
        install=not no_install,
        keep_database=keep_database,
        json_path=json_path,
        compare_tree=compare_tree.resolve() if compare_tree else None,
        worker_env=tuple(_setting(item) for item in worker_env),
    )
    sys.exit(main.run(options))


def _setting(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.startswith("HIRING_JOBS_"):
        raise click.BadParameter(f"expected HIRING_JOBS_NAME=VALUE, got {item!r}")
    return name, value


if __name__ == "__main__":
    bench()
