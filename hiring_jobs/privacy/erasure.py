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
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import email.utils
import hashlib
import html
import json
import logging
import quopri
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import markupsafe
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import audit
from hiring_jobs.models import ErasureRecord, PendingFileDeletion, StoredFile, User
from hiring_jobs.privacy import files as privacy_files
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.inventory import AtErasure, Kind, Table
from hiring_jobs.privacy.subjects import (
    SUBJECT_PARAM,
    about_condition,
    count_about,
    get_user,
    jobs_about,
    row_ids_about,
    scrubs_mentions,
    tables_with_subjects,
)
from hiring_jobs.progress import Progress, silent
from hiring_jobs.services.files import SUFFIXES, write_atomically

logger = logging.getLogger(__name__)

ERASED_NAME = "Erased user"
PHONE_PLACEHOLDER = "[phone erased]"
# Shorter than this, a name or phone would match unrelated text: not searched for.
MIN_NAME_LENGTH = 3
MIN_PHONE_DIGITS = 7

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


def erased_email(user_id: int) -> str:
    return f"erased-{user_id}@erased.invalid"


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


# --- what identifies them -----------------------------------------------------------------

# Between two characters of a value: a quoted-printable soft line break (mail bodies).
_SOFT_BREAK = r"(?:=\r?\n)?"
# Between two words: spaces, a folded header, a quoted-printable space or soft break.
_WORD_GAP = r"(?:\s|=20|_|=\r?\n)+"
_PHONE_GAP = r"(?:\s|[().-]|=20|=\r?\n)*"


# Not glued to a longer word or address. Written in PostgreSQL's syntax; `python_regex`
# translates the POSIX class for Python's `re` (every other construct reads alike).
_ALNUM = "[[:alnum:]]"
_NAME_BEFORE, _NAME_AFTER = f"(?<!{_ALNUM})", f"(?!{_ALNUM})"
_EMAIL_BEFORE = f"(?<!{_ALNUM}|[._%+-])"
_EMAIL_AFTER = f"(?![.]?{_ALNUM}|-)"


def python_regex(pattern: str) -> str:
    return pattern.replace(_ALNUM, r"[^\W_]")


def _char(char: str) -> str:
    """One character of a value as a pattern, tolerant of mail encodings."""
    if char.isspace():
        return _WORD_GAP
    if char == "@":
        return r"(?:@|%40|=40)"  # as typed, URL-encoded, quoted-printable
    # A backslash before a character that is not a letter or digit makes it literal in both.
    return (char if char.isalnum() else "\\" + char) + _SOFT_BREAK


def literal_pattern(value: str) -> str:
    """`value` case-insensitively, also where a mail encoding split or escaped it."""
    parts: list[str] = []
    for char in " ".join(value.split()):
        part = _char(char)
        if not (part == _WORD_GAP and parts and parts[-1] == _WORD_GAP):
            parts.append(part)
    return "".join(parts)


def name_pattern(name: str) -> str:
    return _NAME_BEFORE + literal_pattern(name) + _NAME_AFTER


def email_pattern(address: str) -> str:
    return _EMAIL_BEFORE + literal_pattern(address) + _EMAIL_AFTER


def phone_pattern(phone: str) -> str:
    """The phone's digits whatever the separators, not inside a longer number."""
    digits = [char for char in phone if char.isdigit()]
    if len(digits) < MIN_PHONE_DIGITS:
        return name_pattern(phone)
    return r"(?<![0-9])(?:\+|00)?" + _PHONE_GAP.join(digits) + r"(?![0-9])"


def _encoded_forms(value: str) -> set[str]:
    """The value, HTML-escaped (HTML mail) and quoted-printable (non-ASCII in mail bodies)."""
    forms = {value, str(markupsafe.escape(value)), html.escape(value)}
    for form in list(forms):
        if not form.isascii():
            forms.add(quopri.encodestring(form.encode()).decode().replace("=\n", ""))
    return forms


@dataclasses.dataclass(frozen=True)
class Identity:
    """What identifies a person in text, and what replaces it."""

    user_id: int
    emails: tuple[str, ...]
    names: tuple[str, ...]
    phones: tuple[str, ...]

    def rules(self) -> list[tuple[str, str]]:
        """(pattern, replacement), emails first: an address may contain their name."""
        rules = [(email_pattern(f), erased_email(self.user_id)) for f in self._forms(self.emails)]
        rules += [(name_pattern(f), ERASED_NAME) for f in self._forms(self.names)]
        rules += [(phone_pattern(phone), PHONE_PLACEHOLDER) for phone in self.phones]
        return rules

    @staticmethod
    def _forms(values: Iterable[str]) -> list[str]:
        forms = {form for value in values for form in _encoded_forms(value)}
        return sorted(forms, key=lambda form: (-len(form), form))  # longest first

    def scrub(self, value: str) -> str:
        """`value` with every rule applied, as the database scrub does it."""
        for pattern, replacement in self.rules():
            value = re.sub(
                python_regex(pattern), lambda _, r=replacement: r, value, flags=re.IGNORECASE
            )
        return value


def capture_identity(session: Session, user: User) -> Identity:
    """Their email, name and phone, and the other forms of them stored next to their id."""
    names = {user.full_name, *_names_in_lists(session, user.id), *_names_in_mail(session, user)}
    return Identity(
        user_id=user.id,
        emails=(user.email,),
        names=tuple(sorted(n for n in names if n and len(n.strip()) >= MIN_NAME_LENGTH)),
        phones=(user.phone,) if user.phone else (),
    )


def _names_in_lists(session: Session, user_id: int) -> set[str]:
    """Names cached next to their id (a mentor suggestion made before they renamed)."""
    names: set[str] = set()
    for table, column in _people_lists():
        for _, value in _rows_listing(session, table, column, user_id):
            names.update(_walk_names(value, user_id))
    return names


def _walk_names(value: Any, user_id: int) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("user_id") == user_id and isinstance(value.get("name"), str):
            yield value["name"]
        for item in value.values():
            yield from _walk_names(item, user_id)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_names(item, user_id)


def _names_in_mail(session: Session, user: User) -> set[str]:
    """The display names mail to them was addressed to (`To: Name <address>`)."""
    table = inventory.table("email_deliveries")
    condition = about_condition(table)
    query = text(f"SELECT raw_message FROM {table.name} WHERE ({condition})")
    names = set()
    parser = email.parser.HeaderParser(policy=email.policy.default)  # decodes =?utf-8?...
    for raw in session.scalars(query, {SUBJECT_PARAM: user.id}):
        if raw:
            to = parser.parsestr(raw).get_all("To", [])
            names.update(name for name, _ in email.utils.getaddresses([str(h) for h in to]))
    return names


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
        ("jobs stopped", lambda: _stop_jobs(session, job_ids)),
        (
            "dead letters discarded",
            lambda: _discard_dead_letters(session, job_ids, actor=actor, erasure_id=record.id),
        ),
        ("job results reduced", lambda: _reduce_results(session, job_ids)),
        ("files dropped", lambda: _drop_their_files(session, user_id, record.id)),
        ("rows deleted", lambda: _delete_their_rows(session, user_id)),
        ("list entries dropped", lambda: _drop_list_entries(session, user_id)),
        ("mentions scrubbed", lambda: _scrub_columns(session, identity)),
        ("exports rewritten", lambda: _rewrite_exports(session, files_dir, identity, record.id)),
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


# --- jobs ---------------------------------------------------------------------------------


def _stop_jobs(session: Session, job_ids: list[int]) -> Counter[str]:
    """Waiting jobs cancelled, running ones asked to abort: Procrastinate's own function."""
    stopped = session.execute(
        text(
            "SELECT status::text, count(procrastinate_cancel_job_v1(id, true, false))"
            " FROM (SELECT id, status FROM procrastinate_jobs WHERE id = ANY(:ids)"
            " AND status IN ('todo', 'doing') ORDER BY id FOR UPDATE) AS waiting_or_running"
            " GROUP BY status"
        ),
        {"ids": job_ids},
    )
    by_status = {status: int(count) for status, count in stopped}
    return Counter(
        {
            "jobs.about": len(job_ids),
            "jobs.cancelled": by_status.get("todo", 0),
            "jobs.abort_requested": by_status.get("doing", 0),
        }
    )


def _discard_dead_letters(
    session: Session, job_ids: list[int], *, actor: str, erasure_id: int
) -> Counter[str]:
    """Their failed jobs leave the review queue: retrying one would act on an erased person."""
    discarded = session.execute(
        text(
            "WITH closed AS (UPDATE dead_letters SET reviewed = true"
            " WHERE job_id = ANY(:ids) AND NOT reviewed RETURNING job_id)"
            " INSERT INTO dead_letter_reviews (job_id, action, notes, reviewed_by)"
            " SELECT job_id, 'discarded', :notes, :actor FROM closed"
        ),
        {"ids": job_ids, "notes": f"erasure {erasure_id}", "actor": actor},
    )
    return Counter({"jobs.dead_letters_discarded": discarded.rowcount})


def _reduce_results(session: Session, job_ids: list[int]) -> Counter[str]:
    """Results of attempts of jobs about them keep their ids only (`delivery_id`, ...).

    A result can hold what a job computed about them (a fit score, achievements); the ids
    still tell an operator what the job did, and point at rows that are now gone.
    """
    reduced = session.execute(
        text(
            """
            UPDATE job_attempts SET result = CASE WHEN jsonb_typeof(result) = 'object' THEN
                (SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb)
                 FROM jsonb_each(result) WHERE key ~ '(^|_)ids?$') END
            WHERE job_id = ANY(:ids) AND result IS NOT NULL
            """
        ),
        {"ids": job_ids},
    )
    return Counter({"jobs.results_reduced": reduced.rowcount})


# --- their rows and files -----------------------------------------------------------------


def _drop_their_files(session: Session, user_id: int, erasure_id: int) -> Counter[str]:
    """Their files' rows go now; the files once this commits (PendingFileDeletion)."""
    ids = row_ids_about(session, inventory.table("stored_files"), user_id)
    stored = session.scalars(select(StoredFile).where(StoredFile.id.in_(ids))).all()
    doomed = [f for f in stored if inventory.FILES[f.kind].at_erasure == AtErasure.DELETE]
    counts = Counter(f"files.{row.kind.value}" for row in doomed)
    privacy_files.drop_files(session, doomed, reason="erasure", erasure_id=erasure_id)
    return counts


def _erasable_tables() -> list[Table]:
    # Children before parents (the inventory lists parents first): each count is the
    # table's own rows, not what a cascade took earlier.
    return [
        table
        for table in reversed(tables_with_subjects())
        if not table.keep_rows and table.name != "stored_files"
    ]


def _delete_their_rows(session: Session, user_id: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for table in _erasable_tables():
        condition = about_condition(table, owner_only=scrubs_mentions(table))
        deleted = session.execute(
            text(f"DELETE FROM {table.name} WHERE {condition}"), {SUBJECT_PARAM: user_id}
        )
        counts[f"deleted.{table.name}"] = deleted.rowcount
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


def _people_lists() -> list[tuple[Table, str]]:
    """jsonb columns naming people (Kind.NAME, scrubbed at erasure): suggestions, rankings."""
    return [
        (table, column)
        for table in inventory.TABLES
        for column, field in table.personal.items()
        if field.kind == Kind.NAME and field.at_erasure == AtErasure.SCRUB
    ]


_LISTS_USER = "strict $.** ? (@.user_id == $uid)"


def _rows_listing(
    session: Session, table: Table, column: str, user_id: int
) -> list[tuple[int, Any]]:
    query = text(
        f"SELECT id, {column} FROM {table.name} WHERE jsonb_path_exists("
        f"{column}, CAST(:path AS jsonpath), jsonb_build_object('uid', :uid)) ORDER BY id"
    )
    return [tuple(row) for row in session.execute(query, {"path": _LISTS_USER, "uid": user_id})]


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
    for table, column in _people_lists():
        for row_id, value in _rows_listing(session, table, column, user_id):
            cleaned, dropped = _without_entries(value, user_id)
            session.execute(
                text(f"UPDATE {table.name} SET {column} = CAST(:value AS jsonb) WHERE id = :id"),
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
    row = session.execute(
        text(
            "SELECT format_type(a.atttypid, a.atttypmod) AS type, t.typcategory AS category"
            " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
            " WHERE a.attrelid = CAST(:table AS regclass) AND a.attname = :column"
            " AND NOT a.attisdropped"
        ),
        {"table": table, "column": column},
    ).first()
    if row is None:
        return None
    return row.type if row.category == "S" or row.type in ("json", "jsonb") else None


def _scrub_columns(session: Session, identity: Identity) -> Counter[str]:
    rules = identity.rules()
    counts: Counter[str] = Counter()
    if not rules:
        return counts
    params: dict[str, str] = {"any": "|".join(f"(?:{pattern})" for pattern, _ in rules)}
    replaced = "CAST({column} AS text)"
    for index, (pattern, replacement) in enumerate(rules):
        params[f"p{index}"], params[f"r{index}"] = pattern, replacement
        replaced = f"regexp_replace({replaced}, :p{index}, :r{index}, 'gi')"
    for table, column in _scrubbed_columns():
        column_type = _text_type(session, table.name, column)
        if column_type is None:
            continue
        expression = replaced.format(column=column)
        changed = session.execute(
            text(
                f"UPDATE {table.name} SET {column} = CAST({expression} AS {column_type})"
                f" WHERE CAST({column} AS text) ~* :any"
            ),
            params,
        )
        counts[f"scrubbed.{table.name}.{column}"] = changed.rowcount
    return counts


# --- analytics exports --------------------------------------------------------------------


def _rewrite_exports(
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


# --- what an erasure would do -------------------------------------------------------------


@dataclasses.dataclass
class Preview:
    user: User
    counts: dict[str, int]
    erased_at: datetime | None


def preview(session: Session, user_id: int) -> Preview:
    """The rows, files and jobs an erasure would remove or stop, counted; changes nothing."""
    user = get_user(session, user_id)
    counts: dict[str, int] = {}
    for table in _erasable_tables():
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
    counts.update(_job_counts(session, jobs_about(session, user_id)))
    return Preview(user, {k: v for k, v in sorted(counts.items()) if v}, user.erased_at)


def _job_counts(session: Session, job_ids: list[int]) -> dict[str, int]:
    statuses = session.execute(
        text(
            "SELECT status::text, count(*) FROM procrastinate_jobs"
            " WHERE id = ANY(:ids) GROUP BY status"
        ),
        {"ids": job_ids},
    )
    by_status = {status: int(n) for status, n in statuses}
    return {
        "jobs.about": len(job_ids),
        "jobs.cancelled": by_status.get("todo", 0),
        "jobs.abort_requested": by_status.get("doing", 0),
    }
