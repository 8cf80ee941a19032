"""Files under the files directory, each with a row in stored_files.

Files are written before the row commits; if the transaction rolls back, the file is an
orphan that the orphaned-files cleanup removes. The reverse (a row without its file)
never comes from here.

Everything under the data directory is private to the account running the service:
files are created 0600 and directories 0700 (`write_private`, `make_private_dirs`),
whatever the process umask.
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
    write_atomically(files_dir / relative, data)
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


def write_atomically(path: Path, data: bytes) -> None:
    """`path` holds all of `data` or is untouched (a temporary file, then a rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    write_private(temporary, data)
    os.replace(temporary, path)


PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents, each 0700 (mkdir's `mode` is masked by
    the umask and is not applied to parents, hence one level at a time)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # another process made it at the same moment
        path.chmod(PRIVATE_DIR)


def write_private(path: Path, data: bytes) -> None:
    """Write `path` (replaced if present) readable by its owner only, from its creation on."""
    make_private_dirs(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), PRIVATE_FILE)  # an existing file keeps its mode otherwise
        file.write(data)
