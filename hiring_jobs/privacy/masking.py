"""Masking personal data for display: emails, phone numbers and names.

The admin pages, the JSON API and the logs show values through these functions, so an
operator sees that a job was about `a***@e***.com` without reading the address. Masking
is for display only: the stored value is unchanged and an operator may reveal it (the web
app audits every reveal).

Free text is searched with patterns: emails, `Name <email>` forms (mail headers, SMTP
errors) and phone numbers. The phone pattern is deliberately strict about what it skips
(dates, times, ids, UUIDs, hex, IP addresses, decimals, thousands) because logs and
errors are full of digits; names in free text are found only when the caller knows them
(`names=`), or by the key they are stored under (`PERSONAL_KEYS`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"

EMAIL_KEYS = frozenset({"email", "recipient", "to", "from", "reply_to", "cc", "bcc"})
PHONE_KEYS = frozenset({"phone", "phone_number", "mobile"})
NAME_KEYS = frozenset(
    {
        "full_name",
        "name",
        "first_name",
        "last_name",
        "display_name",
        "address",
        "location",
    }
)
# Dictionary keys whose values are personal data whatever they look like.
PERSONAL_KEYS = EMAIL_KEYS | PHONE_KEYS | NAME_KEYS

# `@` or its URL-encoded form (query strings in access logs).
_ADDRESS = r"[\w.+\-]+(?:@|%40)[\w\-]+(?:\.[\w\-]+)+"
# `pct`: the hex digits of a `%3D` just before the address belong to the escape, not to it.
_EMAIL = re.compile(r"(?P<pct>(?<=%)[0-9A-Fa-f]{2})?(?P<email>" + _ADDRESS + ")")
# `Alice Smith <alice@example.com>`, `"Smith, Alice" <...>`, or HTML-escaped brackets.
_NAMED_ADDRESS = re.compile(
    r"(?P<name>\"[^\"\n]{1,200}\"|(?:[^\W\d_][\w'.\-]*[ \t]+){0,3}[^\W\d_][\w'.\-]*)"
    r"(?P<gap>[ \t]*)(?P<open><|&lt;)(?P<email>" + _ADDRESS + r")(?P<close>>|&gt;)"
)
# A phone candidate: digits with separators, not glued to a word, path, number or version.
_PHONE = re.compile(r"(?<![\w.\-/+])\+?\(?\d[\d \t().\-]*\d(?![\w\-/]|[.:]\d)")
_WORD = re.compile(r"\w[\w'.\-]*")
# Text without this (7 digits, separators allowed) holds no phone number.
_PHONE_HINT = re.compile(r"\d(?:[ \t().\-]*\d){6}")

# Shapes that look like phone numbers but are not.
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")
_IP_OR_VERSION = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_DECIMAL = re.compile(r"\d+\.\d+")
_THOUSANDS = re.compile(r"\d{1,2}(?:([ .])\d{3})(?:\1\d{3})*")
_PARENS_OK = re.compile(r"[^()]*(?:\(\d{1,5}\)[^()]*)?")
# A national number written without separators: trunk prefix 0, then 9 to 11 digits.
_NATIONAL = re.compile(r"0[1-9]\d{7,9}")
_MIN_DIGITS, _MAX_DIGITS = 7, 15


def mask_email(value: str) -> str:
    """`alice.smith@example.com` -> `a***@e***.com`: first letters and the TLD stay."""
    at = "@" if "@" in value else "%40" if "%40" in value else None
    if at is None:
        return mask_name(value)
    local, _, domain = value.rpartition(at)
    labels = domain.split(".")
    masked_domain = domain[:1] + MASK + ("." + labels[-1] if len(labels) > 1 else "")
    return local[:1] + MASK + at + masked_domain


def mask_phone(value: str) -> str:
    """`+1 (555) 123-4567` -> `+* (***) ***-**67`: separators and the last 2 digits stay."""
    digits = sum(char.isdigit() for char in value)
    keep_from = digits - 2
    out: list[str] = []
    seen = 0
    for char in value:
        if char.isdigit():
            out.append(char if seen >= keep_from else "*")
            seen += 1
        else:
            out.append(char)
    return "".join(out)


def mask_name(value: str) -> str:
    """`Alice Smith` -> `A*** S***`: each word keeps its first character."""
    return _WORD.sub(lambda found: found[0][0] + MASK, value)


def mask_text(text: str, *, names: Iterable[str] = ()) -> str:
    """Free text with its emails, `Name <email>` names, phone numbers and `names` masked."""
    masked = text
    # Cheap tests first: most log lines hold no address and no long number, and every
    # log line goes through here.
    if "@" in masked or "%40" in masked:
        masked = _NAMED_ADDRESS.sub(_mask_named_address, masked)
        masked = _EMAIL.sub(lambda found: (found["pct"] or "") + mask_email(found["email"]), masked)
    if _PHONE_HINT.search(masked):
        masked = _PHONE.sub(_mask_phone_candidate, masked)
    return _mask_known_names(masked, names)


def mask_value(value: Any, key: str | None = None, *, names: Iterable[str] = ()) -> Any:
    """A copy of `value` (dicts, lists, tuples, strings) with personal data masked.

    Strings under a key of PERSONAL_KEYS are masked by kind; other strings through
    `mask_text`; other values are returned as they are. The input is never changed.
    """
    names = tuple(names)
    if isinstance(value, Mapping):
        return _mask_mapping(value, names)
    if isinstance(value, list | tuple):
        items = [mask_value(item, key, names=names) for item in value]
        return items if isinstance(value, list) else tuple(items)
    kind = key.lower() if isinstance(key, str) else None
    if isinstance(value, str):
        if kind is not None and kind in PERSONAL_KEYS:
            return _mask_personal(value, kind, names)
        return mask_text(value, names=names)
    if kind in PHONE_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return mask_phone(str(value))  # a phone number stored as a number
    return value


class MaskingFilter(logging.Filter):
    """Masks a record's message, traceback and context before any formatter sees them.

    The message is rendered (`msg % args`) and masked, so arguments cannot bring personal
    data back; the traceback is formatted once into `exc_text`, which both the text and
    the JSON formatter print instead of formatting `exc_info` again.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format: logging itself reports it, unmasked or not
            return True
        record.msg, record.args = mask_text(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        context = getattr(record, "context", None)
        if context:
            record.context = mask_value(context)
        return True


def _mask_mapping(value: Mapping[Any, Any], names: tuple[str, ...]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, item in value.items():
        shown = mask_text(key, names=names) if isinstance(key, str) else key
        while shown in out:  # two addresses masked alike: keep both entries visible
            shown = f"{shown}#"
        out[shown] = mask_value(item, key if isinstance(key, str) else None, names=names)
    return out


def _mask_personal(value: str, kind: str, names: tuple[str, ...]) -> str:
    if kind in PHONE_KEYS:
        return mask_phone(value)
    if "@" in value or "%40" in value:
        masked = mask_text(value, names=names)
        # An address the pattern does not take (no dot in the domain): mask it whole.
        return masked if masked != value else mask_email(value)
    if kind in NAME_KEYS:
        return mask_name(value)
    # `to`/`from` without an address is often not personal (`{"from": "2026-01-01"}`).
    return mask_text(value, names=names)


def _mask_named_address(found: re.Match[str]) -> str:
    name = found["name"]
    prefix = ""
    words = name.split()
    # "error for Alice Smith <...>": leading lowercase words are the sentence, not the name.
    if not name.startswith('"') and any(word[:1].isupper() for word in words):
        while words and not words[0][:1].isupper():
            prefix += words.pop(0) + " "
        name = " ".join(words)
    masked_name = '"' + mask_name(name[1:-1]) + '"' if name.startswith('"') else mask_name(name)
    email = mask_email(found["email"])
    return f"{prefix}{masked_name}{found['gap']}{found['open']}{email}{found['close']}"


def _mask_phone_candidate(found: re.Match[str]) -> str:
    candidate = found[0]
    prefix = ""
    if candidate.startswith("(") and ")" not in candidate:
        prefix, candidate = "(", candidate[1:]  # an opening parenthesis of the sentence
    return prefix + (mask_phone(candidate) if is_phone_number(candidate) else candidate)


def is_phone_number(candidate: str) -> bool:
    """Whether a run of digits and separators reads as a phone number (see module doc)."""
    digits = sum(char.isdigit() for char in candidate)
    if not _MIN_DIGITS <= digits <= _MAX_DIGITS or not _PARENS_OK.fullmatch(candidate):
        return False
    if re.search(r"[ \t.\-()]{3,}|[.\-]{2,}", candidate):
        return False
    if candidate.startswith("+"):
        return True
    bare = candidate.strip("()")
    if bare.isdigit():
        return bool(_NATIONAL.fullmatch(bare))
    if _DATE.search(candidate) or _IP_OR_VERSION.fullmatch(candidate):
        return False
    if _DECIMAL.fullmatch(candidate) or _THOUSANDS.fullmatch(candidate):
        return False
    return not _same_size_groups(candidate)


def _same_size_groups(candidate: str) -> bool:
    """`1001 1002 1003`: a list of ids, not a number (`612 345 678` is a phone, though)."""
    groups = re.split(r"[ \t]+", candidate)
    if len(groups) < 2 or not all(group.isdigit() for group in groups):
        return False
    sizes = {len(group) for group in groups}
    return not candidate.startswith("0") and len(sizes) == 1 and min(sizes) >= 4


def _mask_known_names(text: str, names: Iterable[str]) -> str:
    pattern = _names_pattern(names)
    return pattern.sub(lambda found: mask_name(found[0]), text) if pattern else text


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """The full names and their words (2+ letters), longest first, as whole words."""
    parts: set[str] = set()
    for name in names:
        name = " ".join(name.split())
        if name:
            parts.add(name)
            parts.update(word for word in name.split() if len(word) >= 2)
    if not parts:
        return None
    alternatives = "|".join(re.escape(part) for part in sorted(parts, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
