"""Files on disk (uploads, generated PDFs, thumbnails, exports) and their rows."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column, str_enum


class FileKind(enum.StrEnum):
    RESUME = "resume"
    CV_PDF = "cv_pdf"
    IMAGE = "image"
    THUMBNAIL = "thumbnail"
    EXPORT = "export"
    TEMPORARY = "temporary"


class StoredFile(Base):
    """A file under the files directory; `path` is relative to it."""

    __tablename__ = "stored_files"
    __table_args__ = (Index("ix_stored_files_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[FileKind] = mapped_column(str_enum(FileKind))
    path: Mapped[str] = mapped_column(String(500), unique=True)
    original_name: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Set for generated files that may be cleaned up after this time.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = created_at_column()
