"""Text extraction from uploaded resume PDFs.

Uploads are untrusted: a broken, encrypted or scanned file is an expected outcome, not a bug.
Every such case raises `ResumeUnreadable` with a sentence a recruiter can read, so the caller
can mark the resume as failed instead of retrying a job that can never succeed.
"""

from __future__ import annotations

import io
import math
import re
import struct
import unicodedata
import zlib
from itertools import islice
from pathlib import Path

from pdfminer.converter import TextConverter
from pdfminer.layout import LAParams
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser, PDFSyntaxError
from pdfminer.pdftypes import PDFObjRef
from pdfminer.psexceptions import PSException

# Real-world PDFs sometimes carry a few bytes of junk before the header; readers accept that.
PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024

# pdfminer reports most malformed input through PSException (PDFSyntaxError, PSEOF, ...), but on
# garbled objects it leaks plain Python errors from deep inside its parser; fuzzing truncated and
# bit-flipped resumes produced each of these. Only pdfminer code runs where they are caught.
_PARSER_LEAKS = (
    PSException,
    zlib.error,
    struct.error,
    AssertionError,
    AttributeError,
    IndexError,
    KeyError,
    TypeError,
    ValueError,
    RecursionError,
)


class ResumeUnreadable(ValueError):
    """The file cannot be turned into text; `reason` says why in one short sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_pdf(data: bytes) -> bool:
    """Whether `data` (the start of a file is enough) is a PDF by content, whatever its name."""
    return PDF_MAGIC in data[:MAGIC_WINDOW]


def extract_pdf_text(path: Path, *, max_bytes: int, max_pages: int = 50) -> str:
    """Return the text of the PDF at `path`, whitespace-normalised.

    Raises `ResumeUnreadable` for a missing, oversized, non-PDF, encrypted, damaged,
    too-long or image-only file.
    """
    data = _read_bounded(path, max_bytes)
    if not is_pdf(data):
        raise ResumeUnreadable("the file is not a PDF")
    try:
        text = _pdf_to_text(data, max_pages)
    except ResumeUnreadable:
        raise
    except PDFPasswordIncorrect:
        raise ResumeUnreadable("the PDF is password-protected") from None
    except PDFEncryptionError:
        raise ResumeUnreadable("the PDF uses an encryption we cannot open") from None
    except _PARSER_LEAKS:
        raise ResumeUnreadable("the PDF is damaged or incomplete") from None
    text = normalize_whitespace(text)
    if not text:
        raise ResumeUnreadable("no text found: the PDF may be a scan (image only)")
    return text


def normalize_whitespace(text: str) -> str:
    """Collapse runs of spaces, keep line breaks, allow at most one blank line in a row."""
    # NFKC turns ligatures ("ﬁ") and non-breaking spaces into what a search would expect;
    # splitlines also splits on the form feeds pdfminer puts between pages.
    text = unicodedata.normalize("NFKC", text)
    lines = (re.sub(r"\s+", " ", line).strip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ResumeUnreadable(
                f"the file is {_megabytes(size, up=True)} MB, "
                f"over the {_megabytes(max_bytes)} MB limit"
            )
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise ResumeUnreadable("the file is missing") from None


def _megabytes(size: int, *, up: bool = False) -> str:
    # Rounding the file size up keeps "10.04 MB" from reading as "10 MB, over the 10 MB limit".
    tenths = size / (1024 * 1024) * 10
    value = (math.ceil(tenths) if up else round(tenths)) / 10
    return f"{value:g}"


class _CycleSafeDocument(PDFDocument):
    """A PDFDocument that refuses endless chains of references.

    pdfminer's `resolve1` follows an object that is itself a reference ("5 0 obj 5 0 R endobj")
    in a `while` loop, so one flipped byte can hang a worker forever. Real files never chain
    references more than a step or two, so a long run of reference-to-reference hops is a cycle.
    """

    _MAX_REFERENCE_HOPS = 32
    _reference_hops = 0

    def getobj(self, objid: int) -> object:
        obj = super().getobj(objid)
        self._reference_hops = self._reference_hops + 1 if isinstance(obj, PDFObjRef) else 0
        if self._reference_hops > self._MAX_REFERENCE_HOPS:
            raise PDFSyntaxError("cycle of indirect references")
        return obj


def _pdf_to_text(data: bytes, max_pages: int) -> str:
    document = _CycleSafeDocument(PDFParser(io.BytesIO(data)))
    # Count pages before rendering any, so a 900-page upload costs almost nothing.
    pages = list(islice(PDFPage.create_pages(document), max_pages + 1))
    if not pages:
        raise ResumeUnreadable("the PDF has no pages")
    if len(pages) > max_pages:
        raise ResumeUnreadable(f"the PDF has more than {max_pages} pages")
    manager = PDFResourceManager()
    out = io.StringIO()
    with TextConverter(manager, out, laparams=LAParams()) as device:
        interpreter = PDFPageInterpreter(manager, device)
        for page in pages:
            interpreter.process_page(page)
    return out.getvalue()
