"""Files under the files directory, each with a row in stored_files.

Files are written before the row commits; if the transaction rolls back, the file is an
orphan that the orphaned-files cleanup removes. The reverse (a row without its file)
never comes from here.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path, PurePath

from sqlalchemy.orm import Session

from hiring_jobs.models import FileKind, StoredFile

SUFFIXES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/json": ".json",
    "text/csv": ".csv",
}


def store_file(
    session: Session,
    files_dir: Path,
    *,
    kind: FileKind,
    data: bytes,
    content_type: str,
    original_name: str = "",
    owner_id: int | None = None,
    expires_at: datetime | None = None,
) -> StoredFile:
    """Write `data` under a fresh name (never the user's) and add its row to the session."""
    now = datetime.now(UTC)
    suffix = SUFFIXES.get(content_type, "")
    relative = f"{kind.value}/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"
    _write_atomically(files_dir / relative, data)
    stored = StoredFile(
        kind=kind,
        path=relative,
        original_name=display_name(original_name),
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        owner_id=owner_id,
        expires_at=expires_at,
    )
    session.add(stored)
    session.flush()
    return stored


def file_path(files_dir: Path, stored: StoredFile) -> Path:
    return files_dir / stored.path


def display_name(name: str) -> str:
    """The last path component of a user-supplied name, for display only (never for paths)."""
    base = PurePath(name.replace("\\", "/")).name
    return "".join(ch for ch in base if ch.isprintable())[:255]


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
