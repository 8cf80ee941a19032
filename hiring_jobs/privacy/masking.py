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

Text is searched as written and, when it holds encoded characters, once more as decoded:
HTML character references (`O&#39;Brien`, `Siobh&aacute;n`), quoted-printable escapes and
soft line breaks (`Siobh=C3=A1n`, mail bodies) and MIME encoded-words (`=?utf-8?q?...?=`,
mail headers). What the decoded search finds is masked where it is written, re-encoded the
same way, so an HTML part stays HTML and a header stays a header.
"""

from __future__ import annotations

import dataclasses
import email.errors
import email.header
import html
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Mapping
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

# Encoded characters: an HTML character reference, a MIME encoded-word, or a run of
# quoted-printable escapes (upper-case hex, as RFC 2045 writes them) and soft line breaks.
_ENCODED = re.compile(
    r"(?P<html>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)"
    r"|(?P<mime>=\?[^?\s]{1,40}\?[QqBb]\?[^?\s]*\?=)"
    r"|(?P<qp>(?:=[0-9A-F]{2}|=\r?\n)+)"
)
# A cheap first look (a tenth of the cost of _ENCODED on text without any).
_ENCODED_HINT = re.compile(r"&#?[0-9A-Za-z]{1,31};|=[0-9A-F?\r\n]")
_QP_PART = re.compile(r"=([0-9A-F]{2})|=\r?\n")
# A substitution: which text it is worth trying on, what it finds, what replaces a find.
_Pass = tuple[Callable[[str], object], re.Pattern[str], Callable[[re.Match[str]], str]]


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
    """Free text with its emails, `Name <email>` names, phone numbers and `names` masked,
    as written and as decoded (HTML, quoted-printable, MIME encoded-words)."""
    passes = _passes(names)
    # Decoded first, so that a value written partly encoded is found whole.
    masked = _mask_decoded(text, passes) if _ENCODED_HINT.search(text) else text
    # Cheap tests first (the pass guards): most log lines hold no address, no long number
    # and no encoded character, and every log line goes through here.
    for worth_trying, pattern, replace in passes:
        if worth_trying(masked):
            masked = pattern.sub(replace, masked)
    return masked


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


def _may_hold_address(text: str) -> bool:
    return "@" in text or "%40" in text


def _mask_email_found(found: re.Match[str]) -> str:
    return (found["pct"] or "") + mask_email(found["email"])


_PATTERN_PASSES: list[_Pass] = [
    (_may_hold_address, _NAMED_ADDRESS, _mask_named_address),
    (_may_hold_address, _EMAIL, _mask_email_found),
    (_PHONE_HINT.search, _PHONE, _mask_phone_candidate),
]


def _passes(names: Iterable[str]) -> list[_Pass]:
    pattern = _names_pattern(names)
    if pattern is None:
        return _PATTERN_PASSES
    return [*_PATTERN_PASSES, (bool, pattern, lambda found: mask_name(found[0]))]


# --- masking decoded text ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Piece:
    """A stretch of text: as shown once decoded, and as written."""

    shown: str
    raw: str
    encoding: str = ""  # "", "html", "qp" or "mime"


def _mask_decoded(text: str, passes: list[_Pass]) -> str:
    pieces = _pieces(text)
    for worth_trying, pattern, replace in passes:
        # Twice: a second find inside an encoded piece the first one rewrote.
        for _ in range(2):
            if worth_trying("".join(piece.shown for piece in pieces)):
                pieces = _substitute(pieces, pattern, replace)
    return "".join(piece.raw for piece in pieces)


def _pieces(text: str) -> list[_Piece]:
    """`text` cut into plain stretches and encoded characters, each with its decoded form."""
    pieces: list[_Piece] = []
    end = 0
    for found in _ENCODED.finditer(text):
        if found.start() > end:
            pieces.append(_Piece(text[end : found.start()], text[end : found.start()]))
        end = found.end()
        if found["qp"]:
            pieces.extend(_quoted_printable(found[0]))
            continue
        shown = html.unescape(found[0]) if found["html"] else _encoded_word(found[0])
        encoding = "html" if found["html"] else "mime"
        pieces.append(_Piece(shown, found[0], encoding if shown != found[0] else ""))
    if end < len(text):
        pieces.append(_Piece(text[end:], text[end:]))
    return pieces


def _quoted_printable(run: str) -> list[_Piece]:
    """One piece per decoded character (UTF-8, else Latin-1); soft breaks join the next."""
    pieces: list[_Piece] = []
    raw, pending = "", b""
    for part in _QP_PART.finditer(run):
        raw += part[0]
        if part[1] is None:
            continue  # a soft line break: no character of its own
        pending += bytes([int(part[1], 16)])
        try:
            char = pending.decode("utf-8")
        except UnicodeDecodeError:
            if len(pending) < 4:
                continue  # the rest of a multi-byte character is still to come
            char = pending.decode("latin-1")
        pieces.append(_Piece(char, raw, "qp"))
        raw, pending = "", b""
    if raw:
        pieces.append(_Piece(pending.decode("latin-1"), raw, "qp"))
    return pieces


def _encoded_word(word: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(word)))
    except (ValueError, LookupError, email.errors.HeaderParseError):
        return word  # not decodable: taken as plain text


def _substitute(
    pieces: list[_Piece], pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> list[_Piece]:
    """`pattern.sub(replace, ...)` on the decoded text, each change written back over the
    pieces it covers: plain pieces are cut at its edges, encoded pieces taken whole."""
    decoded = "".join(piece.shown for piece in pieces)
    changes = [
        (found.start(), found.end(), new)
        for found in pattern.finditer(decoded)
        if (new := replace(found)) != found[0]
    ]
    pieces = _cut(pieces, {edge for start, end, _ in changes for edge in (start, end)})
    out: list[_Piece] = []
    offset, index = 0, 0
    for start, end, new in changes:
        if start < offset:
            continue  # inside an encoded piece rewritten just before: the next round
        while index < len(pieces) and offset + len(pieces[index].shown) <= start:
            offset += len(pieces[index].shown)
            out.append(pieces[index])
            index += 1
        first, covered = offset, []
        while index < len(pieces) and offset < end:
            offset += len(pieces[index].shown)
            covered.append(pieces[index])
            index += 1
        shown = "".join(piece.shown for piece in covered)
        text = shown[: start - first] + new + shown[end - first :]
        out.append(_written(text, {piece.encoding for piece in covered}))
    return out + pieces[index:]


def _cut(pieces: list[_Piece], edges: set[int]) -> list[_Piece]:
    """Plain pieces cut at `edges` (offsets in the decoded text)."""
    out: list[_Piece] = []
    offset = 0
    for piece in pieces:
        length = len(piece.shown)
        inner = sorted(edge - offset for edge in edges if offset < edge < offset + length)
        offset += length
        if piece.encoding or not inner:
            out.append(piece)
            continue
        bounds = [0, *inner, length]
        out += [_Piece(piece.shown[a:b], piece.raw[a:b]) for a, b in itertools.pairwise(bounds)]
    return out


def _written(text: str, encodings: set[str]) -> _Piece:
    """`text` written the way the text it replaces was (HTML, quoted-printable, header)."""
    if "mime" in encodings and not text.isascii():
        raw = email.header.Header(text, "utf-8").encode()
    elif "html" in encodings:
        raw = html.escape(text)
    elif "qp" in encodings:
        raw = "".join(_qp_char(char) for char in text)
    else:
        raw = text
    return _Piece(text, raw, "" if raw == text else "written")


def _qp_char(char: str) -> str:
    if char.isascii() and char != "=":
        return char
    return "".join(f"={byte:02X}" for byte in char.encode())


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
