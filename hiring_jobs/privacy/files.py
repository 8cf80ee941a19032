"""Removing personal files: rows in the caller's transaction, files from disk after it.

A file removed before its transaction commits is lost if the transaction rolls back; a
file removed after the commit is left behind by a crash in between. So the transaction
that drops a StoredFile row also writes a PendingFileDeletion row, and the files go from
disk only once that is committed: `remove_pending_files` runs after every erasure and
retention run, and finds what a crashed run left.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import ErasureRecord, PendingFileDeletion, StoredFile

logger = logging.getLogger(__name__)

BATCH = 500


def drop_files(
    session: Session, stored: Iterable[StoredFile], *, reason: str, erasure_id: int | None = None
) -> int:
    """Delete the rows now and schedule their files for removal once this commits."""
    count = 0
    for row in stored:
        session.add(PendingFileDeletion(path=row.path, reason=reason, erasure_id=erasure_id))
        session.delete(row)
        count += 1
    session.flush()
    return count


@dataclasses.dataclass
class RemovedFiles:
    removed: int = 0
    already_gone: int = 0


def remove_pending_files(factory: sessionmaker[Session], files_dir: Path) -> RemovedFiles:
    """Remove the files of committed deletions from disk, batch by batch."""
    outcome = RemovedFiles()
    while True:
        with factory() as session, session.begin():
            pending = session.scalars(
                select(PendingFileDeletion)
                .order_by(PendingFileDeletion.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            if not pending:
                break
            for row in pending:
                _unlink(files_dir, row.path, outcome)
            session.execute(
                delete(PendingFileDeletion).where(
                    PendingFileDeletion.id.in_([row.id for row in pending])
                )
            )
            _mark_erasures_done(session, {row.erasure_id for row in pending} - {None})
    return outcome


def _unlink(files_dir: Path, relative: str, outcome: RemovedFiles) -> None:
    path = (files_dir / relative).resolve()
    if not path.is_relative_to(files_dir.resolve()):
        # Paths come from our own rows, never from users; refuse anything outside anyway.
        logger.error("not removing %s: outside the files directory", relative)
        return
    try:
        path.unlink()
    except FileNotFoundError:
        outcome.already_gone += 1
    else:
        outcome.removed += 1


def _mark_erasures_done(session: Session, erasure_ids: set[int | None]) -> None:
    if not erasure_ids:
        return
    still_pending = exists().where(PendingFileDeletion.erasure_id == ErasureRecord.id)
    session.execute(
        update(ErasureRecord)
        .where(ErasureRecord.id.in_(erasure_ids), ~still_pending)
        .values(files_removed_at=datetime.now(UTC))
    )
