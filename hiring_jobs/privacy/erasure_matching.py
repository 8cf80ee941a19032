"""Who a person is in text: their email, names and phone as patterns, and where they are listed.

Captured before an erasure changes anything (`capture_identity`), then used to scrub the
text of other people's rows and files. Patterns are written in PostgreSQL's regex syntax
(the scrub runs in the database); `python_regex` translates them for files.
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import email.utils
import html
import quopri
import re
from collections.abc import Iterable, Iterator
from typing import Any

import markupsafe
from sqlalchemy.orm import Session

from hiring_jobs.models import User
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.inventory import AtErasure, Kind, Table
from hiring_jobs.privacy.subjects import run_about
from hiring_jobs.sql import PRIVACY, run

ERASED_NAME = "Erased user"
PHONE_PLACEHOLDER = "[phone erased]"
# Shorter than this, a name or phone would match unrelated text: not searched for.
MIN_NAME_LENGTH = 3
MIN_PHONE_DIGITS = 7


def erased_email(user_id: int) -> str:
    return f"erased-{user_id}@erased.invalid"


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
    for table, column in people_lists():
        for _, value in rows_listing(session, table, column, user_id):
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
    found = run_about(session, "mail_about", inventory.table("email_deliveries"), user.id)
    names = set()
    parser = email.parser.HeaderParser(policy=email.policy.default)  # decodes =?utf-8?...
    for raw in found.scalars() if found is not None else ():
        if raw:
            to = parser.parsestr(raw).get_all("To", [])
            names.update(name for name, _ in email.utils.getaddresses([str(h) for h in to]))
    return names


def people_lists() -> list[tuple[Table, str]]:
    """jsonb columns naming people (Kind.NAME, scrubbed at erasure): suggestions, rankings."""
    return [
        (table, column)
        for table in inventory.TABLES
        for column, field in table.personal.items()
        if field.kind == Kind.NAME and field.at_erasure == AtErasure.SCRUB
    ]


LISTS_USER = "strict $.** ? (@.user_id == $uid)"


def rows_listing(
    session: Session, table: Table, column: str, user_id: int
) -> list[tuple[int, Any]]:
    statement = PRIVACY.render("rows_listing", table=table.name, column=column)
    return [tuple(row) for row in run(session, statement, {"path": LISTS_USER, "uid": user_id})]
