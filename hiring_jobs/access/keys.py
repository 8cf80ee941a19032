"""The server's secret key: it signs session cookies and keys the hashes of API tokens.

`HIRING_JOBS_SECRET_KEY` when set (production: the same value on every web process and
for the CLI). Otherwise a key kept in the data directory (`secret-key`, 0600, the file
`hiring-jobs up` keeps too), so that local web processes, restarts and CLI commands agree.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from hiring_jobs.services.files import write_private
from hiring_jobs.settings import Settings

KEY_FILE = "secret-key"


def secret_key(settings: Settings) -> str:
    return settings.secret_key or _kept_key(settings.data_dir / KEY_FILE)


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose, so that no two uses of the secret key can be confused."""
    return hmac.new(secret_key(settings).encode(), purpose.encode(), hashlib.sha256).digest()


def _kept_key(path: Path) -> str:
    with contextlib.suppress(FileNotFoundError):
        if found := path.read_text().strip():
            return found
    # Written aside, then linked into place: a concurrent reader never sees an empty file,
    # and of two processes starting together the first link wins and both use it.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_private(temporary, secrets.token_urlsafe(32).encode())
    try:
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
    return path.read_text().strip()
