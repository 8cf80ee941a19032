"""Demo resumes are realistic enough that our own parser reads back what went in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hiring_jobs.demo.resume_pdfs import (
    DEMO_CANDIDATES,
    REFERENCE_DATE,
    DemoCandidate,
    write_corrupt_pdf,
    write_demo_resumes,
    write_encrypted_pdf,
    write_image_only_pdf,
    write_resume_pdf,
)
from hiring_jobs.services.pdf_text import extract_pdf_text, is_pdf
from hiring_jobs.services.resume_facts import education, years_of_experience
from hiring_jobs.services.skills import canonical_skill, extract_skills

LIMIT = 10 * 1024 * 1024


def test_six_varied_candidates() -> None:
    headlines = {c.headline for c in DEMO_CANDIDATES}

    assert len(DEMO_CANDIDATES) == 6
    assert len(headlines) == 6
    assert len({c.email for c in DEMO_CANDIDATES}) == 6
    assert len({c.slug for c in DEMO_CANDIDATES}) == 6
    assert any("Junior" in h for h in headlines)


@pytest.mark.parametrize("candidate", DEMO_CANDIDATES, ids=lambda c: c.slug)
def test_candidate_data_fits_the_core_pdf_fonts(candidate: DemoCandidate) -> None:
    texts = [candidate.name, candidate.summary, *candidate.education, *candidate.skills]
    texts += [
        part for e in candidate.experience for part in (e.title, e.company, e.dates, *e.bullets)
    ]

    for text in texts:
        text.encode("latin-1")  # raises on anything the core fonts cannot draw


@pytest.mark.parametrize("candidate", DEMO_CANDIDATES, ids=lambda c: c.slug)
def test_listed_skills_use_canonical_names(candidate: DemoCandidate) -> None:
    assert [canonical_skill(s) for s in candidate.skills] == list(candidate.skills)


@pytest.mark.parametrize("candidate", DEMO_CANDIDATES, ids=lambda c: c.slug)
def test_resume_round_trips_through_the_parser(candidate: DemoCandidate, tmp_path: Path) -> None:
    path = write_resume_pdf(candidate, tmp_path / "resumes" / f"{candidate.slug}.pdf")
    text = extract_pdf_text(path, max_bytes=LIMIT)

    assert is_pdf(path.read_bytes())
    assert candidate.name in text
    assert candidate.email in text
    assert set(candidate.skills) <= set(extract_skills(text))
    years = years_of_experience(text, today=REFERENCE_DATE)
    assert years == pytest.approx(candidate.years_experience, abs=0.25)
    degrees = education(text)
    assert len(degrees) == len(candidate.education)
    assert all(d["institution"] and d["year"] for d in degrees)


def test_the_same_candidate_gives_the_same_bytes(tmp_path: Path) -> None:
    first = write_resume_pdf(DEMO_CANDIDATES[3], tmp_path / "a.pdf").read_bytes()
    second = write_resume_pdf(DEMO_CANDIDATES[3], tmp_path / "b.pdf").read_bytes()

    assert first == second


def test_write_demo_resumes_writes_one_file_per_candidate(tmp_path: Path) -> None:
    paths = write_demo_resumes(tmp_path / "demo")

    assert [p.name for p in paths] == [f"{c.slug}.pdf" for c in DEMO_CANDIDATES]
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize(
    "writer",
    [write_encrypted_pdf, write_image_only_pdf, write_corrupt_pdf],
    ids=lambda w: w.__name__,
)
def test_bad_inputs_still_look_like_pdfs_by_content(
    writer: Callable[[Path], Path], tmp_path: Path
) -> None:
    path = writer(tmp_path / "bad" / "upload.pdf")

    assert is_pdf(path.read_bytes())
