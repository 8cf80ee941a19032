"""Documents and files: CV PDFs, image thumbnails, and cleaning the files directory.

Generated files are found again by content: the CV of an unchanged profile on the same day,
or the thumbnail of the same image at the same size, is the same bytes, so a second run
returns the first file instead of writing another (an advisory lock keeps two concurrent
runs from both writing it).

Deleting is two-phase: rows are deleted in a transaction that returns their paths, and the
files are unlinked only after it commits. A crash in between leaves a file without a row,
which the orphan cleanup removes; never a row without its file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from hiring_jobs.models import (
    Achievement,
    AchievementUnlock,
    Course,
    CourseEnrollment,
    FileKind,
    ParseStatus,
    Resume,
    StoredFile,
    User,
    UserSkill,
)
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.services import files
from hiring_jobs.services.analytics import xact_lock
from hiring_jobs.sql import QUEUE, run

CV_LIFETIME = timedelta(days=7)
THUMBNAIL_SIZE = (256, 256)
# Larger images are refused before decoding (decompression bombs); photos stay far below.
MAX_IMAGE_PIXELS = 50_000_000
# A file written moments ago may belong to a transaction that has not committed yet.
ORPHAN_GRACE = timedelta(hours=1)
TEMPORARY_LIFETIME = timedelta(hours=24)
BATCH = 500

# --- CV PDFs ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CvProfile:
    name: str
    email: str
    headline: str
    location: str
    bio: str
    skills: list[str]
    years_experience: float | None
    education: list[dict[str, Any]]
    courses: list[str]
    achievements: list[str]


def cv_profile(session: Session, user_id: int) -> CvProfile | None:
    user = session.get(User, user_id)
    if user is None:
        return None
    resume = session.scalars(
        select(Resume)
        .where(
            Resume.user_id == user_id,
            Resume.parse_status == ParseStatus.PARSED,
            Resume.deleted_at.is_(None),
        )
        .order_by(Resume.parsed_at.desc(), Resume.id.desc())
        .limit(1)
    ).first()
    return CvProfile(
        name=user.full_name,
        email=user.email,
        headline=user.headline,
        location=user.location,
        bio=user.bio,
        skills=list(session.scalars(select(UserSkill.skill).where(UserSkill.user_id == user_id))),
        years_experience=resume.years_experience if resume else None,
        education=list(resume.education) if resume else [],
        courses=list(
            session.scalars(
                select(Course.title)
                .join(CourseEnrollment, CourseEnrollment.course_id == Course.id)
                .where(CourseEnrollment.user_id == user_id)
                .where(CourseEnrollment.completed_at.is_not(None))
                .order_by(CourseEnrollment.completed_at)
            )
        ),
        achievements=list(
            session.scalars(
                select(Achievement.name)
                .join(AchievementUnlock, AchievementUnlock.achievement_id == Achievement.id)
                .where(AchievementUnlock.user_id == user_id)
                .order_by(AchievementUnlock.unlocked_at, Achievement.name)
            )
        ),
    )


_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2022": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\t": " ",
        "\r": None,
        "\u00ad": None,  # soft hyphen
        "\u20ac": "EUR",
        # Letters outside latin-1 that do not decompose into a base letter and an accent.
        "\u0141": "L",
        "\u0142": "l",
        "\u0110": "D",
        "\u0111": "d",
        "\u0126": "H",
        "\u0127": "h",
        "\u0131": "i",
        "\u0152": "OE",
        "\u0153": "oe",
    }
)


def latin1(value: str) -> str:
    """Text the PDF core fonts can show: punctuation simplified, accents kept when latin-1
    has them, stripped when not ("Łukasz" -> "Lukasz"), "?" for anything else."""
    out = []
    for char in value.translate(_PUNCTUATION):
        if char == "\n" or (ord(char) < 256 and char.isprintable()):
            out.append(char)
            continue
        base = "".join(
            c
            for c in unicodedata.normalize("NFKD", char)
            if ord(c) < 256 and not unicodedata.combining(c)
        )
        out.append(base if base.isprintable() and base else "?")
    return "".join(out)


def render_cv(profile: CvProfile, generated: date) -> bytes:
    """The CV as PDF bytes; the same profile on the same day gives the same bytes."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.combine(generated, time(), UTC))
    pdf.set_title(latin1(f"{profile.name} - CV"))
    pdf.set_author(latin1(profile.name))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    _line(pdf, profile.name, height=10)
    pdf.set_font("Helvetica", "", 12)
    if profile.headline:
        _line(pdf, profile.headline, height=7)
    pdf.set_font("Helvetica", "", 10)
    _line(pdf, " | ".join(filter(None, [profile.email, profile.location])), height=6)
    for title, body in _sections(profile):
        _section(pdf, title, body)
    pdf.set_y(-20)
    pdf.set_font("Helvetica", "I", 8)
    _line(pdf, f"Generated by Hiring Jobs on {generated.isoformat()}", height=5)
    return bytes(pdf.output())


def _sections(profile: CvProfile) -> Iterator[tuple[str, list[str]]]:
    if profile.bio:
        yield "Summary", [profile.bio]
    if profile.years_experience is not None:
        yield "Experience", [f"{profile.years_experience:g} years of professional experience"]
    if profile.skills:
        yield "Skills", [", ".join(sorted(profile.skills, key=str.casefold))]
    if profile.education:
        yield "Education", [_degree(entry) for entry in profile.education]
    if profile.courses:
        yield "Courses completed", profile.courses
    if profile.achievements:
        yield "Achievements", profile.achievements


def _degree(entry: dict[str, Any]) -> str:
    parts = [entry.get("level"), entry.get("field"), entry.get("institution"), entry.get("year")]
    return ", ".join(str(part) for part in parts if part)


def _section(pdf: FPDF, title: str, lines: list[str]) -> None:
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    _line(pdf, title, height=8)
    pdf.set_font("Helvetica", "", 10)
    for line in lines:
        pdf.multi_cell(0, 5, latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _line(pdf: FPDF, value: str, *, height: float) -> None:
    pdf.cell(0, height, latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def generate_cv_pdf(
    session: Session, files_dir: Path, user_id: int, now: datetime
) -> tuple[StoredFile, bool]:
    """The user's CV as a stored file (kind cv_pdf); True when it was written now."""
    profile = cv_profile(session, user_id)
    if profile is None:
        raise PermanentError(f"user {user_id} does not exist")
    data = render_cv(profile, now.astimezone(UTC).date())
    existing = _same_file(session, files_dir, f"cv:{user_id}", FileKind.CV_PDF, data, user_id)
    if existing is not None:
        return existing, False
    stored = files.store_file(
        session,
        files_dir,
        kind=FileKind.CV_PDF,
        data=data,
        content_type="application/pdf",
        original_name=f"{profile.name} CV.pdf",
        owner_id=user_id,
        expires_at=now + CV_LIFETIME,
    )
    return stored, True


def _same_file(
    session: Session, files_dir: Path, lock: str, kind: FileKind, data: bytes, owner: int | None
) -> StoredFile | None:
    """A stored file of this kind and owner with these exact bytes, still on disk."""
    xact_lock(session, lock)
    candidates = session.scalars(
        select(StoredFile)
        .where(
            StoredFile.kind == kind,
            StoredFile.owner_id.is_not_distinct_from(owner),
            StoredFile.sha256 == hashlib.sha256(data).hexdigest(),
        )
        .order_by(StoredFile.id.desc())
    )
    return next((c for c in candidates if files.file_path(files_dir, c).is_file()), None)


# --- thumbnails ---------------------------------------------------------------------------


def make_thumbnail(data: bytes, size: tuple[int, int]) -> tuple[bytes, str]:
    """A thumbnail within `size`, as (bytes, content type). Checked by content, not name."""
    try:
        return _thumbnail(data, size)
    except UnidentifiedImageError:
        raise PermanentError("the file is not an image (its content is no known format)") from None
    except Image.DecompressionBombError:
        raise PermanentError("the image is too large to process") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PermanentError(f"the image is damaged or unsupported: {exc}") from None


def _thumbnail(data: bytes, size: tuple[int, int]) -> tuple[bytes, str]:
    with Image.open(io.BytesIO(data)) as probe:
        if probe.width * probe.height > MAX_IMAGE_PIXELS:
            raise PermanentError(f"the image is too large ({probe.width}x{probe.height})")
        probe.verify()  # structure and checksums, before decoding anything
    with Image.open(io.BytesIO(data)) as image:
        source_format = image.format
        thumbnail = ImageOps.exif_transpose(image)
    thumbnail.thumbnail(size)
    buffer = io.BytesIO()
    if source_format == "JPEG":
        thumbnail.convert("RGB").save(buffer, "JPEG", quality=85)
        return buffer.getvalue(), "image/jpeg"
    if thumbnail.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        thumbnail = thumbnail.convert("RGBA")
    thumbnail.save(buffer, "PNG")
    return buffer.getvalue(), "image/png"


def generate_thumbnail(
    session: Session, files_dir: Path, file_id: int, size: tuple[int, int] = THUMBNAIL_SIZE
) -> tuple[StoredFile, bool]:
    """The thumbnail of stored image `file_id`; True when it was written now."""
    source = session.get(StoredFile, file_id)
    if source is None:
        raise PermanentError(f"file {file_id} does not exist")
    try:
        original = files.file_path(files_dir, source).read_bytes()
    except FileNotFoundError:
        raise PermanentError(f"the content of file {file_id} is missing") from None
    try:
        data, content_type = make_thumbnail(original, size)
    except PermanentError as exc:
        raise PermanentError(f"file {file_id}: {exc}") from None
    lock = f"thumbnail:{file_id}:{size[0]}x{size[1]}"
    existing = _same_file(session, files_dir, lock, FileKind.THUMBNAIL, data, source.owner_id)
    if existing is not None:
        return existing, False
    stored = files.store_file(
        session,
        files_dir,
        kind=FileKind.THUMBNAIL,
        data=data,
        content_type=content_type,
        original_name=f"thumbnail-{file_id}-{size[0]}x{size[1]}",
        owner_id=source.owner_id,
    )
    return stored, True


# --- cleanup ------------------------------------------------------------------------------


def delete_file_rows(session: Session, condition: ColumnElement[bool]) -> list[str]:
    """Delete up to BATCH stored-file rows matching `condition`; their paths, to unlink later."""
    doomed = select(StoredFile.id).where(condition).order_by(StoredFile.id).limit(BATCH)
    statement = delete(StoredFile).where(StoredFile.id.in_(doomed.scalar_subquery()))
    return list(session.scalars(statement.returning(StoredFile.path)))


def old_cv_pdfs(cutoff: datetime) -> ColumnElement[bool]:
    return (StoredFile.kind == FileKind.CV_PDF) & (StoredFile.created_at < cutoff)


def expired_files(now: datetime) -> ColumnElement[bool]:
    """Files past their expiry, and temporary files older than a day."""
    temporary = (StoredFile.kind == FileKind.TEMPORARY) & (
        StoredFile.created_at < now - TEMPORARY_LIFETIME
    )
    return or_(StoredFile.expires_at < now, temporary)


def unlink(files_dir: Path, paths: Iterable[str]) -> int:
    """Remove files (already gone is fine); only under `files_dir`."""
    removed = 0
    root = files_dir.resolve()
    for relative in paths:
        path = (files_dir / relative).resolve()
        if not path.is_relative_to(root):
            continue
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def orphaned_files(session: Session, files_dir: Path, now: datetime) -> list[str]:
    """Paths on disk, older than the grace period, that no stored_files row names."""
    old = [p for p in _walk(files_dir) if _mtime(files_dir / p) < now - ORPHAN_GRACE]
    orphans = []
    for start in range(0, len(old), BATCH):
        chunk = old[start : start + BATCH]
        known = set(session.scalars(select(StoredFile.path).where(StoredFile.path.in_(chunk))))
        orphans += [path for path in chunk if path not in known]
    return orphans


def delete_rows_without_files(session: Session, files_dir: Path, now: datetime) -> int:
    """Delete stored_files rows whose file is gone from disk (checked in id order)."""
    missing: list[int] = []
    last_id = 0
    while True:
        rows = session.execute(
            select(StoredFile.id, StoredFile.path)
            .where(StoredFile.id > last_id, StoredFile.created_at < now - ORPHAN_GRACE)
            .order_by(StoredFile.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        missing += [row_id for row_id, path in rows if not (files_dir / path).is_file()]
        last_id = rows[-1][0]
    if missing:
        session.execute(delete(StoredFile).where(StoredFile.id.in_(missing)))
    return len(missing)


def _walk(files_dir: Path) -> list[str]:
    """Relative POSIX paths of every file under `files_dir` (partial writes included)."""
    found = []
    for directory, _, names in os.walk(files_dir):
        for name in names:
            found.append((Path(directory) / name).relative_to(files_dir).as_posix())
    return sorted(found)


def _mtime(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return datetime.max.replace(tzinfo=UTC)  # gone meanwhile: nothing to do


# --- resumes ------------------------------------------------------------------------------


def pending_resumes_without_job(session: Session) -> list[int]:
    """Pending resumes that no waiting or running parse job will handle."""
    return list(run(session, QUEUE["pending_resumes_without_job"]).scalars())


def delete_soft_deleted_resumes(session: Session, cutoff: datetime) -> list[str]:
    """Delete resumes soft-deleted before `cutoff` and their file rows; the paths to unlink."""
    file_ids = [
        file_id
        for file_id in session.scalars(
            delete(Resume)
            .where(Resume.deleted_at < cutoff)
            .returning(Resume.file_id)
            .execution_options(synchronize_session=False)
        )
        if file_id is not None
    ]
    if not file_ids:
        return []
    return list(
        session.scalars(
            delete(StoredFile)
            .where(StoredFile.id.in_(file_ids))
            .returning(StoredFile.path)
            .execution_options(synchronize_session=False)
        )
    )
