"""Candidate fit: a 0-100 score from skills and experience, with the reasons."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hiring_jobs.services.fit import FitResult, score_fit


def fit(
    resume: list[str],
    years: float | None = 10,
    required: list[str] | None = None,
    nice: list[str] | None = None,
    min_years: int = 0,
) -> FitResult:
    return score_fit(resume, years, required or [], nice or [], min_years)


def test_a_perfect_match_scores_100() -> None:
    result = fit(["Python", "PostgreSQL", "Docker"], 6, ["Python", "PostgreSQL"], ["Docker"], 5)

    assert result.score == 100
    assert result.matched == ["Python", "PostgreSQL"]
    assert result.missing == []
    assert result.matched_nice_to_have == ["Docker"]
    assert result.experience_ok


def test_required_skills_weigh_70_nice_to_have_20_experience_10() -> None:
    result = fit(
        resume=["Python", "SQL", "Docker"],
        years=3,
        required=["Python", "SQL", "Kubernetes", "Terraform"],  # 2 of 4 -> 35
        nice=["Docker", "Go"],  # 1 of 2 -> 10
        min_years=6,  # 3 of 6 years -> 5
    )

    assert result.score == 50
    assert not result.experience_ok


def test_nothing_asked_counts_as_fully_met() -> None:
    assert fit(["Figma"], None).score == 100


def test_no_required_skills_gives_the_required_part_in_full() -> None:
    result = fit(["Figma"], 2, required=[], nice=["Sketch"], min_years=2)

    assert result.score == 80
    assert result.explanation.startswith("The posting lists no required skills and 0 of 1")


def test_nothing_matching_scores_0() -> None:
    result = fit(["Excel"], None, ["Python"], ["Go"], 3)

    assert result.score == 0
    assert result.missing == ["Python"]


def test_skills_are_compared_by_canonical_name() -> None:
    result = fit(["Go", "PostgreSQL", "JavaScript"], required=["golang", "postgres", "JS"])

    assert result.matched == ["Go", "PostgreSQL", "JavaScript"]
    assert result.extra == []


def test_unknown_skills_are_compared_case_insensitively() -> None:
    result = fit(["kubeflow  pipelines"], required=["Kubeflow Pipelines", "Ray Serve"])

    assert result.matched == ["Kubeflow Pipelines"]
    assert result.missing == ["Ray Serve"]


def test_the_same_skill_listed_twice_on_a_posting_counts_once() -> None:
    result = fit(["PostgreSQL"], required=["Postgres", "PostgreSQL", "Python"])

    assert result.matched == ["PostgreSQL"]
    assert result.missing == ["Python"]
    assert result.score == 65  # 1 of 2 required -> 35, + 20 + 10


def test_extra_skills_are_the_resumes_skills_not_asked_for() -> None:
    result = fit(
        ["Python", "scikit-learn", "Docker", "Airflow"], required=["Python"], nice=["Docker"]
    )

    assert result.extra == ["Apache Airflow", "scikit-learn"]


@pytest.mark.parametrize(
    ("years", "min_years", "points", "ok"),
    [
        (8, 5, 10, True),
        (5, 5, 10, True),
        (2.5, 5, 5, False),
        (None, 5, 0, False),
        (None, 0, 10, True),
    ],
)
def test_experience_earns_points_in_proportion(
    years: float | None, min_years: int, points: int, ok: bool
) -> None:
    result = fit([], years, min_years=min_years)

    assert result.score == 90 + points
    assert result.experience_ok is ok


class TestExplanation:
    def test_names_missing_skills_and_the_experience_verdict(self) -> None:
        result = fit(["Python"], 3, ["Python", "Kubernetes", "Go"], ["Docker", "AWS"], 5)

        assert result.explanation == (
            "Has 1 of 3 required skills (missing Kubernetes, Go) and 0 of 2 nice-to-have. "
            "3 years of experience is short of the 5-year minimum."
        )

    def test_when_everything_matches(self) -> None:
        result = fit(["Python"], 1, ["Python"], min_years=1)

        assert result.explanation == (
            "Has 1 of 1 required skills. 1 year of experience meets the 1-year minimum."
        )

    def test_when_experience_is_unknown(self) -> None:
        result = fit(["Python"], None, ["Python"], min_years=2)

        assert result.explanation.endswith(
            "Years of experience could not be read from the resume, so the 2-year minimum is "
            "unconfirmed."
        )


def test_the_result_is_frozen_and_stores_as_json() -> None:
    result = fit(["Python", "Go"], 4.5, ["Python"], ["Rust"], 3)

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 1  # type: ignore[misc]
    assert json.loads(json.dumps(result.as_dict())) == {
        "score": 80,  # 70 + 0 of 1 nice-to-have + 10
        "matched": ["Python"],
        "missing": [],
        "extra": ["Go"],
        "matched_nice_to_have": [],
        "experience_ok": True,
        "explanation": result.explanation,
    }
