"""How well a parsed resume fits a job posting, as a 0-100 score with reasons."""

from __future__ import annotations

import dataclasses
from typing import Any

from hiring_jobs.services.skills import canonical_skill

REQUIRED_WEIGHT = 70
NICE_TO_HAVE_WEIGHT = 20
EXPERIENCE_WEIGHT = 10


@dataclasses.dataclass(frozen=True)
class FitResult:
    score: int
    matched: list[str]  # required skills the resume shows, in the posting's order
    missing: list[str]  # required skills it does not show
    extra: list[str]  # resume skills the posting does not ask for, sorted
    matched_nice_to_have: list[str]
    experience_ok: bool
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, for `Application.fit_explanation`."""
        return dataclasses.asdict(self)


def score_fit(
    resume_skills: list[str],
    years_experience: float | None,
    required_skills: list[str],
    nice_to_have_skills: list[str],
    min_years_experience: int,
) -> FitResult:
    """Score a resume against a posting.

    score = round(70 * required matched / required
                  + 20 * nice-to-have matched / nice-to-have
                  + 10 * min(1, years / min_years))

    An empty list counts as fully met, as does a minimum of 0 years; unknown experience
    against a positive minimum earns nothing. Skills are compared by canonical name, so
    "golang" on a posting matches "Go" on a resume; names outside the vocabulary are
    compared case-insensitively.
    """
    have = {_key(s): _display(s) for s in resume_skills}
    required, nice = _unique(required_skills), _unique(nice_to_have_skills)
    matched = [s for s in required if _key(s) in have]
    missing = [s for s in required if _key(s) not in have]
    matched_nice = [s for s in nice if _key(s) in have]
    asked = {_key(s) for s in required + nice}
    extra = sorted((name for key, name in have.items() if key not in asked), key=str.casefold)
    experience_share = _experience_share(years_experience, min_years_experience)
    score = round(
        REQUIRED_WEIGHT * _share(len(matched), len(required))
        + NICE_TO_HAVE_WEIGHT * _share(len(matched_nice), len(nice))
        + EXPERIENCE_WEIGHT * experience_share
    )
    return FitResult(
        score=score,
        matched=matched,
        missing=missing,
        extra=extra,
        matched_nice_to_have=matched_nice,
        experience_ok=experience_share == 1,
        explanation=_explain(
            matched, missing, matched_nice, nice, years_experience, min_years_experience
        ),
    )


def _key(name: str) -> str:
    return (canonical_skill(name) or " ".join(name.split())).casefold()


def _display(name: str) -> str:
    return canonical_skill(name) or " ".join(name.split())


def _unique(names: list[str]) -> list[str]:
    # A posting that lists "Postgres" and "PostgreSQL" asks for one skill, not two.
    seen: dict[str, str] = {}
    for name in names:
        if name.strip():
            seen.setdefault(_key(name), _display(name))
    return list(seen.values())


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def _experience_share(years: float | None, minimum: int) -> float:
    if minimum <= 0:
        return 1.0
    if years is None:
        return 0.0
    return min(1.0, years / minimum)


def _explain(
    matched: list[str],
    missing: list[str],
    matched_nice: list[str],
    nice: list[str],
    years: float | None,
    minimum: int,
) -> str:
    required = len(matched) + len(missing)
    if required:
        skills = f"Has {len(matched)} of {required} required skills"
        skills += f" (missing {', '.join(missing)})" if missing else ""
    else:
        skills = "The posting lists no required skills"
    if nice:
        skills += f" and {len(matched_nice)} of {len(nice)} nice-to-have"
    return f"{skills}. {_explain_experience(years, minimum)}"


def _explain_experience(years: float | None, minimum: int) -> str:
    if minimum <= 0:
        return "No minimum experience is required."
    wanted = f"the {minimum}-year minimum"
    if years is None:
        return f"Years of experience could not be read from the resume, so {wanted} is unconfirmed."
    verdict = "meets" if years >= minimum else "is short of"
    unit = "year" if years == 1 else "years"
    return f"{years:g} {unit} of experience {verdict} {wanted}."
