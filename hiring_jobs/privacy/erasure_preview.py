"""What an erasure would do, counted before anyone confirms it; changes nothing."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hiring_jobs.models import StoredFile, User
from hiring_jobs.privacy import erasure_jobs, inventory
from hiring_jobs.privacy.erasure import erasable_tables
from hiring_jobs.privacy.subjects import (
    count_about,
    get_user,
    jobs_about,
    row_ids_about,
    scrubs_mentions,
)


@dataclasses.dataclass
class Preview:
    user: User
    counts: dict[str, int]
    erased_at: datetime | None


def preview(session: Session, user_id: int) -> Preview:
    """The rows, files and jobs an erasure would remove or stop, counted; changes nothing."""
    user = get_user(session, user_id)
    counts: dict[str, int] = {}
    for table in erasable_tables():
        owner_only = scrubs_mentions(table)
        counts[f"deleted.{table.name}"] = count_about(
            session, table, user_id, owner_only=owner_only
        )
    ids = row_ids_about(session, inventory.table("stored_files"), user_id)
    kinds = session.execute(
        select(StoredFile.kind, func.count())
        .where(StoredFile.id.in_(ids))
        .group_by(StoredFile.kind)
    )
    counts.update({f"files.{kind.value}": int(n) for kind, n in kinds})
    counts.update(erasure_jobs.job_counts(session, jobs_about(session, user_id)))
    return Preview(user, {k: v for k, v in sorted(counts.items()) if v}, user.erased_at)
