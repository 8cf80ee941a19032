"""Real work: `resume.parse` of the demo resume PDFs (pdfminer text, skills, facts), with
one and with two worker processes, on the resume queue only: at production concurrency,
and one parse at a time per process (Celery prefork's shape).
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from hiring_jobs import db
from hiring_jobs.demo.resume_pdfs import write_demo_resumes
from hiring_jobs.models import User, UserRole
from hiring_jobs.queue.defer import batch_defer
from hiring_jobs.services.resumes import create_resume
from hiring_jobs.settings import get_settings
from tools.bench.common import (
    Bench,
    BenchError,
    CpuMeter,
    hiring_worker,
    reset_jobs,
    server_now,
    wait_listening,
)
from tools.bench.drain import finished_at, wait_drained

MAX_BYTES = 10 * 1024 * 1024
WARM_UP_PER_PROCESS = 12  # parses before the clock starts, spread over the processes
PARSE = "resume.parse"
_serial = itertools.count(1)


def demo_pdfs(bench: Bench) -> list[Path]:
    directory = bench.tmp / "demo-pdfs"
    directory.mkdir(parents=True, exist_ok=True)
    return write_demo_resumes(directory)


def _upload_resumes(bench: Bench, pdfs: list[Path], count: int) -> list[int]:
    engine = db.make_engine(bench.url)
    factory = sessionmaker(engine, expire_on_commit=False)
    files_dir = get_settings().files_dir
    try:
        with db.session_scope(factory) as session:
            ids = []
            for pdf in itertools.islice(itertools.cycle(pdfs), count):
                n = next(_serial)
                user = User(email=f"bench{n}@example.com", full_name=f"Bench {n}")
                user.role = UserRole.CANDIDATE
                session.add(user)
                session.flush()
                data = pdf.read_bytes()
                resume = create_resume(
                    session,
                    files_dir,
                    user_id=user.id,
                    data=data,
                    filename=pdf.name,
                    max_bytes=MAX_BYTES,
                )
                ids.append(resume.id)
        return ids
    finally:
        engine.dispose()


@dataclasses.dataclass(frozen=True)
class ParseRound:
    rate: float  # resumes per second
    worker_cpu_ms: float  # CPU per resume, worker processes
    postgres_cpu_ms: float  # CPU per resume, the bench database's backends


def parse_round(
    bench: Bench, pdfs: list[Path], count: int, processes: int, concurrency: int
) -> ParseRound:
    """Resumes parsed per second from the commit of their jobs to the last success, and
    the CPU each resume cost the worker and PostgreSQL (what bounds scaling on 2 cores)."""
    reset_jobs(bench)
    warm_up_ids = _upload_resumes(bench, pdfs, WARM_UP_PER_PROCESS * processes)
    resume_ids = _upload_resumes(bench, pdfs, count)
    worker = hiring_worker(bench, processes=processes, concurrency=concurrency, queues="resume")
    try:
        wait_listening(bench, [worker], processes)
        # Imports (pdfminer) and engines are created on the first parse of each process.
        warm_up, _ = _defer_parses(bench, warm_up_ids)
        wait_drained(bench, min(warm_up), max(warm_up), [worker], PARSE)
        meter = CpuMeter(bench, worker.pid)
        job_ids, committed = _defer_parses(bench, resume_ids)
        first, last = min(job_ids), max(job_ids)
        wait_drained(bench, first, last, [worker], PARSE)
        cpu = meter.used()
        succeeded, ended = finished_at(bench, first, last, PARSE)
    except BenchError as exc:
        raise BenchError(f"resume parsing: {exc}\n{worker.tail()}") from None
    finally:
        worker.stop()
    if succeeded != count:
        raise BenchError(f"resume parsing: {succeeded} of {count} parse jobs succeeded")
    return ParseRound(
        rate=count / max(ended - committed, 1e-6),
        worker_cpu_ms=cpu["worker"] * 1000 / count,
        postgres_cpu_ms=cpu["postgres"] * 1000 / count,
    )


def _defer_parses(bench: Bench, resume_ids: list[int]) -> tuple[list[int], float]:
    engine = db.make_engine(bench.url)
    factory = sessionmaker(engine, expire_on_commit=False)
    try:
        with db.session_scope(factory) as session:
            job_ids = batch_defer(session, PARSE, [{"resume_id": rid} for rid in resume_ids])
        with bench.connect() as conn:
            return job_ids, server_now(conn)
    finally:
        engine.dispose()
