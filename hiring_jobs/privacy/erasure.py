"""Erasing a candidate everywhere: rows, files, jobs about them, and mentions of them.

`erase_candidate` makes every database change in one transaction, driven by the
declarations of privacy/inventory.py:

1. lock the user row; an erased user is reported as such and nothing changes;
2. capture what identifies them (email, name, phone, and the variants stored elsewhere)
   before anything is removed, to find mentions of them afterwards;
3. jobs about them (privacy.subjects.jobs_about): waiting ones cancelled, running ones
   asked to abort (Procrastinate's own `procrastinate_cancel_job_v1`), failed ones
   discarded from the dead-letter review queue, results of their attempts reduced to ids;
4. their files: rows dropped, files queued for removal after the commit (privacy.files);
5. rows whose subject they are: deleted (tables with `keep_rows` excepted); in tables that
   keep other people's rows and scrub mentions (notifications), a row is theirs when they
   own it (its first subject), not when they are merely named in it;
6. lists naming people (NAME columns scrubbed at erasure: recommendation caches, the
   leaderboard): entries pointing at them dropped;
7. every remaining text column that can quote a person (SCRUB and FREE_TEXT columns, and
   the text of other people's rows: mail sent to a mentor naming them, notes...):
   their email, phone and name replaced by placeholders, case-insensitively, also in
   quoted-printable mail bodies; analytics export files likewise (rewritten to a new path);
8. the users row anonymised, an ErasureRecord and an audit entry (ids and counts only).

After the commit the files go from disk (`remove_pending_files`), which also finishes
what any earlier run left after a crash: re-running `erase-candidate` (for anyone, or
`--resume-pending`) recovers.

Beside this module: erasure_matching.py (what identifies them, step 2), erasure_jobs.py
(step 3), erasure_files.py (export files, step 7) and erasure_preview.py (the counts shown
before anyone confirms).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg.sql import Composable, Identifier
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import audit
from hiring_jobs.models import ErasureRecord, StoredFile, User
from hiring_jobs.privacy import files as privacy_files
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.erasure_files import rewrite_exports
from hiring_jobs.privacy.erasure_jobs import discard_dead_letters, reduce_results, stop_jobs
from hiring_jobs.privacy.erasure_matching import (
    ERASED_NAME,
    Identity,
    capture_identity,
    erased_email,
    people_lists,
    rows_listing,
)
from hiring_jobs.privacy.inventory import AtErasure, Kind, Table
from hiring_jobs.privacy.subjects import (
    get_user,
    jobs_about,
    row_ids_about,
    run_about,
    scrubs_mentions,
    tables_with_subjects,
)
from hiring_jobs.progress import Progress, silent
from hiring_jobs.sql import PRIVACY, SQL, run

logger = logging.getLogger(__name__)


# What the users row keeps: every personal column of `users` (checked by the tests).
ANONYMISED_USER = {
    "email": None,  # erased-<id>@erased.invalid, set per user
    "full_name": ERASED_NAME,
    "phone": None,
    "headline": "",
    "bio": "",
    "location": "",
    "password_hash": None,
}


class ErasureError(Exception):
    """An erasure that cannot run as asked."""


# --- the receipt --------------------------------------------------------------------------


@dataclasses.dataclass
class Receipt:
    """What an erasure did: counts per kind, no personal data."""

    user_id: int
    erasure_id: int
    erased_at: datetime
    counts: dict[str, int]
    files_removed: int = 0
    already_erased: bool = False

    def lines(self) -> list[str]:
        day = f"{self.erased_at:%Y-%m-%d %H:%M:%S} UTC"
        if self.already_erased:
            head = f"user {self.user_id} was already erased on {day} (erasure {self.erasure_id})"
            return [f"{head}: nothing changed", *self._files_line()]
        lines = [f"erasure {self.erasure_id}: user {self.user_id} erased on {day}"]
        lines += [f"  {count:>6}  {kind}" for kind, count in sorted(self.counts.items())]
        return lines + self._files_line()

    def _files_line(self) -> list[str]:
        return [f"files removed from disk: {self.files_removed}"]

    def __str__(self) -> str:
        return "\n".join(self.lines())


# --- the erasure --------------------------------------------------------------------------


def erase_candidate(
    factory: sessionmaker[Session],
    user_id: int,
    *,
    actor: str,
    files_dir: Path,
    progress: Progress = silent,
) -> Receipt:
    """Erase the user in one transaction, then remove their files; see the module doc.

    Raises `NoSuchUser` for an unknown id. An already erased user gets a receipt saying
    so, and only the file removals a crashed run left behind are finished. `progress`
    hears of each step of the transaction as it ends.
    """
    with factory() as session, session.begin():
        receipt = _erase(session, user_id, actor=actor, files_dir=files_dir, progress=progress)
    receipt.files_removed = resume_pending(factory, files_dir)
    return receipt


def resume_pending(factory: sessionmaker[Session], files_dir: Path) -> int:
    """Remove the files of committed erasures (and retention runs) still on disk."""
    outcome = privacy_files.remove_pending_files(factory, files_dir)
    return outcome.removed


def _erase(
    session: Session, user_id: int, *, actor: str, files_dir: Path, progress: Progress
) -> Receipt:
    user = get_user(session, user_id, lock=True)
    if user.erased_at is not None:
        return _already_erased(session, user)
    job_ids = jobs_about(session, user_id)
    identity = capture_identity(session, user)
    record = ErasureRecord(user_id=user_id, requested_by=actor, counts={})
    session.add(record)
    session.flush()
    steps: list[tuple[str, Callable[[], Counter[str]]]] = [
        ("jobs stopped", lambda: stop_jobs(session, job_ids)),
        (
            "dead letters discarded",
            lambda: discard_dead_letters(session, job_ids, actor=actor, erasure_id=record.id),
        ),
        ("job results reduced", lambda: reduce_results(session, job_ids)),
        ("files dropped", lambda: _drop_their_files(session, user_id, record.id)),
        ("rows deleted", lambda: _delete_their_rows(session, user_id)),
        ("list entries dropped", lambda: _drop_list_entries(session, user_id)),
        ("mentions scrubbed", lambda: _scrub_columns(session, identity)),
        (
            "exports rewritten",
            lambda: rewrite_exports(session, files_dir, identity, record.id),
        ),
    ]
    counts: Counter[str] = Counter()
    for done, (name, step) in enumerate(steps, start=1):
        counts.update(step())
        progress(name, done, len(steps))
    now = _anonymise(session, user)
    counts["anonymised.users"] = 1
    record.counts = {kind: count for kind, count in sorted(counts.items()) if count}
    _audit(session, actor, record, len(job_ids))
    logger.info("erasure %s of user %s: %s", record.id, user_id, record.counts)
    return Receipt(user_id, record.id, now, dict(record.counts))


def _already_erased(session: Session, user: User) -> Receipt:
    record = session.scalars(
        select(ErasureRecord)
        .where(ErasureRecord.user_id == user.id)
        .order_by(ErasureRecord.id.desc())
        .limit(1)
    ).first()
    assert user.erased_at is not None
    return Receipt(
        user.id,
        record.id if record else 0,
        user.erased_at,
        dict(record.counts) if record else {},
        already_erased=True,
    )


def _audit(session: Session, actor: str, record: ErasureRecord, jobs: int) -> None:
    audit.record(
        session,
        actor=actor,
        action="erase_candidate",
        target=f"user {record.user_id}",
        job_count=jobs,
        details={"erasure_id": record.id, "counts": record.counts},
    )


# --- their rows and files -----------------------------------------------------------------


def _drop_their_files(session: Session, user_id: int, erasure_id: int) -> Counter[str]:
    """Their files' rows go now; the files once this commits (PendingFileDeletion)."""
    ids = row_ids_about(session, inventory.table("stored_files"), user_id)
    stored = session.scalars(select(StoredFile).where(StoredFile.id.in_(ids))).all()
    doomed = [f for f in stored if inventory.FILES[f.kind].at_erasure == AtErasure.DELETE]
    counts = Counter(f"files.{row.kind.value}" for row in doomed)
    privacy_files.drop_files(session, doomed, reason="erasure", erasure_id=erasure_id)
    return counts


def erasable_tables() -> list[Table]:
    # Children before parents (the inventory lists parents first): each count is the
    # table's own rows, not what a cascade took earlier.
    return [
        table
        for table in reversed(tables_with_subjects())
        if not table.keep_rows and table.name != "stored_files"
    ]


def _delete_their_rows(session: Session, user_id: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for table in erasable_tables():
        owner_only = scrubs_mentions(table)
        deleted = run_about(session, "delete_rows_about", table, user_id, owner_only=owner_only)
        counts[f"deleted.{table.name}"] = deleted.rowcount if deleted is not None else 0
    return counts


def _anonymise(session: Session, user: User) -> datetime:
    now = datetime.now(UTC)
    for column, placeholder in ANONYMISED_USER.items():
        setattr(user, column, placeholder)
    user.email = erased_email(user.id)
    user.is_active = False
    user.erased_at = now
    session.flush()
    return now


# --- mentions of them in other people's rows ----------------------------------------------


def _without_entries(value: Any, user_id: int) -> tuple[Any, int]:
    """`value` without the list entries that are objects about `user_id`; how many went."""
    if isinstance(value, dict):
        dropped = 0
        out = {}
        for key, item in value.items():
            out[key], n = _without_entries(item, user_id)
            dropped += n
        return out, dropped
    if isinstance(value, list):
        kept = [i for i in value if not (isinstance(i, dict) and i.get("user_id") == user_id)]
        dropped = len(value) - len(kept)
        out_list = []
        for item in kept:
            cleaned, n = _without_entries(item, user_id)
            out_list.append(cleaned)
            dropped += n
        return out_list, dropped
    return value, 0


def _drop_list_entries(session: Session, user_id: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for table, column in people_lists():
        for row_id, value in rows_listing(session, table, column, user_id):
            cleaned, dropped = _without_entries(value, user_id)
            run(
                session,
                PRIVACY.render("replace_list", table=table.name, column=column),
                {"value": json.dumps(cleaned), "id": row_id},
            )
            counts[f"entries_dropped.{table.name}.{column}"] += dropped
    return counts


def _scrubbed_columns() -> list[tuple[Table, str]]:
    """Columns whose text may quote a person: everything personal but people's own fields.

    ANONYMISE columns are someone's own email, name or profile (another person with the
    same name keeps theirs); credentials are hashes.
    """
    return [
        (table, column)
        for table in inventory.TABLES
        for column, field in table.personal.items()
        if field.at_erasure != AtErasure.ANONYMISE and field.kind != Kind.CREDENTIAL
    ]


def _text_type(session: Session, table: str, column: str) -> str | None:
    """The column's SQL type when it holds text (text, varchar(n), json, jsonb), else None."""
    params = {"table": table, "column": column}
    row = run(session, PRIVACY["column_text_type"], params).first()
    if row is None:
        return None
    return row.type if row.category == "S" or row.type in ("json", "jsonb") else None


def _scrub_columns(session: Session, identity: Identity) -> Counter[str]:
    rules = identity.rules()
    counts: Counter[str] = Counter()
    if not rules:
        return counts
    params: dict[str, str] = {"any": "|".join(f"(?:{pattern})" for pattern, _ in rules)}
    for index, (pattern, replacement) in enumerate(rules):
        params[f"p{index}"], params[f"r{index}"] = pattern, replacement
    for table, column in _scrubbed_columns():
        column_type = _text_type(session, table.name, column)
        if column_type is None:
            continue
        replaced: Composable = SQL("CAST({} AS text)").format(Identifier(column))
        for index in range(len(rules)):
            replaced = SQL("regexp_replace({}, %(p{})s, %(r{})s, 'gi')").format(
                replaced, SQL(str(index)), SQL(str(index))
            )
        statement = PRIVACY.render(
            "scrub_column",
            table=table.name,
            column=column,
            replaced=replaced,
            column_type=SQL(column_type),  # as PostgreSQL spelled it (format_type)
        )
        changed = run(session, statement, params)
        counts[f"scrubbed.{table.name}.{column}"] = changed.rowcount
    return counts
