"""Everything held about a candidate, in one zip archive (GDPR articles 15 and 20).

The archive holds:

- `candidate.json`: every row about them (privacy.subjects) of every table of the
  inventory that has subjects, all columns but credentials (password and token hashes);
- `jobs.json`: the jobs about them, with their arguments, attempts (errors, results) and
  events;
- `files/`: the files they own (resumes, CV PDFs, images, thumbnails), by kind.

The same data gives the same bytes: rows and jobs are sorted, JSON keys sorted, and zip
entries carry a fixed date. Nothing is written to the database: callers audit the export.
"""

from __future__ import annotations

import base64
import json
import os
import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs.models import JobAttempt, StoredFile
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.inventory import Kind
from hiring_jobs.privacy.subjects import get_user, jobs_about, rows_about, tables_with_subjects
from hiring_jobs.progress import Progress, silent
from hiring_jobs.services.files import write_private
from hiring_jobs.sql import QUEUE, run

FORMAT_VERSION = 1
# Zip entries need a date; a fixed one keeps the archive identical for identical data.
ENTRY_DATE = (2000, 1, 1, 0, 0, 0)


def export_candidate(
    session: Session, user_id: int, files_dir: Path, output: Path, progress: Progress = silent
) -> Path:
    """Write the archive of everything about `user_id` to `output`; `NoSuchUser` if unknown.

    `progress` hears of each archive entry as it is written.
    """
    get_user(session, user_id)
    document = candidate_document(session, user_id)
    jobs = jobs_document(session, user_id)
    files = _owned_files(session, files_dir, user_id)
    document["files"] = [{"id": f.id, "archive_path": name} for name, f, _ in files]
    entries = [("candidate.json", _json(document)), ("jobs.json", _json(jobs))]
    entries += [(name, data) for name, _, data in files]
    temporary = output.with_name(f".{output.name}.tmp")
    write_private(temporary, b"")  # personal data: readable by its owner only
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, (name, data) in enumerate(entries, start=1):
            _add(archive, name, data)
            progress(name, done, len(entries))
    os.replace(temporary, output)  # never a half-written archive at `output`
    return output


def candidate_document(session: Session, user_id: int) -> dict[str, Any]:
    """Every row about them, table by table, without credential columns."""
    tables = {}
    for table in tables_with_subjects():
        hidden = {c for c, field in table.personal.items() if field.kind == Kind.CREDENTIAL}
        rows = [
            {column: jsonable(value) for column, value in row.items() if column not in hidden}
            for row in rows_about(session, table, user_id)
        ]
        tables[table.name] = rows
    return {"format": FORMAT_VERSION, "user_id": user_id, "tables": tables}


def jobs_document(session: Session, user_id: int) -> dict[str, Any]:
    """The jobs about them: what ran, with which arguments, how each attempt ended."""
    job_ids = jobs_about(session, user_id)
    rows = run(session, QUEUE["jobs_for_export"], {"ids": job_ids})
    attempts = _attempts(session, job_ids)
    events = _events(session, job_ids)
    jobs = [
        {
            "id": row.id,
            "task": row.task_name,
            "queue": row.queue_name,
            "status": row.status,
            "args": jsonable(row.args),
            "scheduled_at": jsonable(row.scheduled_at),
            "attempt_count": row.attempts,
            "attempts": attempts.get(row.id, []),
            "events": events.get(row.id, []),
        }
        for row in rows
    ]
    return {"format": FORMAT_VERSION, "user_id": user_id, "jobs": jobs}


def _attempts(session: Session, job_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    # Tracebacks are left out: they show our code, and repeat the error message.
    query = select(JobAttempt).where(JobAttempt.job_id.in_(job_ids)).order_by(JobAttempt.id)
    found: dict[int, list[dict[str, Any]]] = {}
    for attempt in session.scalars(query):
        found.setdefault(attempt.job_id, []).append(
            {
                "attempt": attempt.attempt,
                "outcome": attempt.outcome.value,
                "started_at": jsonable(attempt.started_at),
                "finished_at": jsonable(attempt.finished_at),
                "exception_type": attempt.exception_type,
                "error_message": attempt.error_message,
                "result": jsonable(attempt.result),
            }
        )
    return found


def _events(session: Session, job_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows = run(session, QUEUE["events_for_export"], {"ids": job_ids})
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.job_id, []).append({"type": row.type, "at": jsonable(row.at)})
    return found


def _owned_files(
    session: Session, files_dir: Path, user_id: int
) -> list[tuple[str, StoredFile, bytes]]:
    """(archive name, row, content) of their files still on disk, by id."""
    owner = inventory.table("stored_files")
    ids = [row["id"] for row in rows_about(session, owner, user_id)]
    stored = session.scalars(
        select(StoredFile).where(StoredFile.id.in_(ids)).order_by(StoredFile.id)
    )
    found = []
    for row in stored:
        try:
            data = (files_dir / row.path).read_bytes()
        except FileNotFoundError:
            continue  # listed in candidate.json (stored_files) all the same
        found.append((_archive_name(row), row, data))
    return found


def _archive_name(row: StoredFile) -> str:
    # The stored name is the user's: only its last component, and the id keeps it unique.
    shown = PurePath(row.original_name.replace("\\", "/")).name or PurePath(row.path).name
    return f"files/{row.kind.value}/{row.id}-{shown}"


def jsonable(value: Any) -> Any:
    """A JSON-serialisable copy: ISO dates, plain numbers, enum values, base64 bytes."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _json(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ENTRY_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
