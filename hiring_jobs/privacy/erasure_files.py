"""Export files that mention an erased person: rewritten, scrubbed, to a new path."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs.models import PendingFileDeletion, StoredFile
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.erasure_matching import Identity
from hiring_jobs.privacy.inventory import AtErasure
from hiring_jobs.services.files import SUFFIXES, write_atomically


def rewrite_exports(
    session: Session, files_dir: Path, identity: Identity, erasure_id: int
) -> Counter[str]:
    """Export files (kinds scrubbed at erasure) that mention them: rewritten to a new path.

    The row keeps its id (snapshots point at it) and gets the new path; the old file is
    removed after the commit like any other. Today's analytics exports hold counts and
    posting, course and skill names only, so this finds nothing unless a future export
    names people.
    """
    kinds = [kind for kind, rule in inventory.FILES.items() if rule.at_erasure == AtErasure.SCRUB]
    counts: Counter[str] = Counter()
    query = select(StoredFile).where(StoredFile.kind.in_(kinds)).order_by(StoredFile.id)
    for stored in session.scalars(query):
        content = _text_of(files_dir / stored.path)
        if content is None or (scrubbed := identity.scrub(content)) == content:
            continue
        _replace_file(session, files_dir, stored, scrubbed.encode(), erasure_id)
        counts[f"files_rewritten.{stored.kind.value}"] += 1
    return counts


def _text_of(path: Path) -> str | None:
    try:
        return path.read_bytes().decode()
    except (FileNotFoundError, UnicodeDecodeError):
        return None  # gone already, or not text: nothing to search


def _replace_file(
    session: Session, files_dir: Path, stored: StoredFile, data: bytes, erasure_id: int
) -> None:
    # Written before the commit like every stored file: a rollback leaves an orphan that
    # the files cleanup removes, never a row without its file.
    now = datetime.now(UTC)
    suffix = SUFFIXES.get(stored.content_type, "")
    relative = f"{stored.kind.value}/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"
    write_atomically(files_dir / relative, data)
    session.add(PendingFileDeletion(path=stored.path, reason="erasure", erasure_id=erasure_id))
    stored.path = relative
    stored.size_bytes = len(data)
    stored.sha256 = hashlib.sha256(data).hexdigest()
    session.flush()
