"""Resume PDFs become text; anything unreadable becomes a clear reason, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from hiring_jobs.demo.resume_pdfs import (
    DEMO_CANDIDATES,
    write_corrupt_pdf,
    write_encrypted_pdf,
    write_image_only_pdf,
    write_resume_pdf,
)
from hiring_jobs.services.pdf_text import (
    ResumeUnreadable,
    extract_pdf_text,
    is_pdf,
    normalize_whitespace,
)

MB = 1024 * 1024
LIMIT = 10 * MB


def unreadable_reason(path: Path, **limits: int) -> str:
    limits.setdefault("max_bytes", LIMIT)
    with pytest.raises(ResumeUnreadable) as caught:
        extract_pdf_text(path, **limits)
    return caught.value.reason


def write_pages(path: Path, count: int) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for number in range(1, count + 1):
        pdf.add_page()
        pdf.cell(0, 10, f"Page {number} of a long resume")
    pdf.output(str(path))
    return path


def test_a_resume_pdf_reads_as_text(tmp_path: Path) -> None:
    candidate = DEMO_CANDIDATES[0]
    text = extract_pdf_text(write_resume_pdf(candidate, tmp_path / "cv.pdf"), max_bytes=LIMIT)

    assert candidate.name in text
    assert "Senior Backend Engineer - Finlytics GmbH" in text
    assert "Mar 2020 - Present" in text


def test_whitespace_is_collapsed_but_line_breaks_survive(tmp_path: Path) -> None:
    text = extract_pdf_text(
        write_resume_pdf(DEMO_CANDIDATES[1], tmp_path / "cv.pdf"), max_bytes=LIMIT
    )

    assert "  " not in text
    assert "\n\n\n" not in text
    assert "Lucas Ferreira\nFrontend Engineer" in text


def test_normalize_whitespace() -> None:
    raw = "  Jane\u00a0  Doe \t\nSenior   Engineer\n\n\n\n\x0cPage two ﬁnal  "

    assert normalize_whitespace(raw) == "Jane Doe\nSenior Engineer\n\nPage two final"


def test_the_file_type_is_decided_by_content_not_name(tmp_path: Path) -> None:
    pdf_named_docx = write_resume_pdf(DEMO_CANDIDATES[2], tmp_path / "resume.docx")

    assert DEMO_CANDIDATES[2].name in extract_pdf_text(pdf_named_docx, max_bytes=LIMIT)


def test_a_pdf_with_only_an_owner_password_still_reads(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Restricted printing, readable text")
    pdf.set_encryption(owner_password="owner-only")
    pdf.output(str(tmp_path / "restricted.pdf"))

    text = extract_pdf_text(tmp_path / "restricted.pdf", max_bytes=LIMIT)

    assert text == "Restricted printing, readable text"


def test_up_to_max_pages_is_fine(tmp_path: Path) -> None:
    text = extract_pdf_text(write_pages(tmp_path / "two.pdf", 2), max_bytes=LIMIT, max_pages=2)

    assert [line for line in text.splitlines() if line] == [
        "Page 1 of a long resume",
        "Page 2 of a long resume",
    ]


class TestUnreadableFiles:
    def test_missing_file(self, tmp_path: Path) -> None:
        assert unreadable_reason(tmp_path / "gone.pdf") == "the file is missing"

    def test_oversized_file_names_both_sizes(self, tmp_path: Path) -> None:
        big = tmp_path / "big.pdf"
        with big.open("wb") as handle:
            handle.write(b"%PDF-1.4\n")
            handle.truncate(int(12.3 * MB))  # sparse: cheap to create

        assert unreadable_reason(big) == "the file is 12.3 MB, over the 10 MB limit"

    def test_a_file_just_over_the_limit_does_not_look_equal_to_it(self, tmp_path: Path) -> None:
        big = tmp_path / "big.pdf"
        big.write_bytes(b"%PDF-1.4\n" + b"0" * MB)

        assert unreadable_reason(big, max_bytes=MB) == "the file is 1.1 MB, over the 1 MB limit"

    def test_non_pdf_renamed_to_pdf(self, tmp_path: Path) -> None:
        fake = tmp_path / "resume.pdf"
        fake.write_bytes(b"PK\x03\x04" + b"word/document.xml" * 50)  # a .docx in disguise

        assert unreadable_reason(fake) == "the file is not a PDF"

    def test_empty_file(self, tmp_path: Path) -> None:
        (tmp_path / "empty.pdf").write_bytes(b"")

        assert unreadable_reason(tmp_path / "empty.pdf") == "the file is not a PDF"

    def test_password_protected_pdf(self, tmp_path: Path) -> None:
        path = write_encrypted_pdf(tmp_path / "locked.pdf")

        assert unreadable_reason(path) == "the PDF is password-protected"

    def test_truncated_pdf(self, tmp_path: Path) -> None:
        path = write_corrupt_pdf(tmp_path / "cut.pdf")

        assert unreadable_reason(path) == "the PDF is damaged or incomplete"

    def test_garbage_after_a_pdf_header(self, tmp_path: Path) -> None:
        path = tmp_path / "garbage.pdf"
        path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)

        assert unreadable_reason(path) == "the PDF is damaged or incomplete"

    def test_reference_cycle_does_not_hang(self, tmp_path: Path) -> None:
        # Object 1 is a reference to itself; plain pdfminer loops forever on this.
        body = b"%PDF-1.4\n1 0 obj\n1 0 R\nendobj\n"
        trailer = b"trailer\n<< /Root 1 0 R /Size 2 >>\nstartxref\n0\n%%EOF\n"
        path = tmp_path / "cycle.pdf"
        path.write_bytes(body + trailer)

        assert unreadable_reason(path) == "the PDF is damaged or incomplete"

    def test_image_only_scan(self, tmp_path: Path) -> None:
        path = write_image_only_pdf(tmp_path / "scan.pdf")

        assert unreadable_reason(path) == "no text found: the PDF may be a scan (image only)"

    def test_too_many_pages(self, tmp_path: Path) -> None:
        path = write_pages(tmp_path / "long.pdf", 3)

        assert unreadable_reason(path, max_pages=2) == "the PDF has more than 2 pages"

    def test_the_reason_is_also_the_message(self, tmp_path: Path) -> None:
        error = ResumeUnreadable("the PDF is password-protected")

        assert str(error) == error.reason
        assert isinstance(error, ValueError)


class TestIsPdf:
    def test_pdf_header(self) -> None:
        assert is_pdf(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def test_header_after_a_little_junk(self) -> None:
        assert is_pdf(b"\xef\xbb\xbf" + b" " * 500 + b"%PDF-1.4")

    def test_header_too_far_in(self) -> None:
        assert not is_pdf(b" " * 1024 + b"%PDF-1.4")

    @pytest.mark.parametrize(
        "data",
        [b"", b"PK\x03\x04", b"\x89PNG\r\n\x1a\n", b"{\\rtf1\\ansi", b"Jane Doe, resume"],
    )
    def test_other_formats(self, data: bytes) -> None:
        assert not is_pdf(data)
