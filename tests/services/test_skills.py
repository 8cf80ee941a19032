"""The shipped skills vocabulary, and finding its skills in resume text."""

from __future__ import annotations

import pytest

from hiring_jobs.services.skills import (
    Skill,
    Vocabulary,
    canonical_skill,
    extract_skills,
    load_vocabulary,
)


class TestVocabulary:
    def test_ships_a_broad_vocabulary(self) -> None:
        vocabulary = load_vocabulary()
        categories = {skill.category for skill in vocabulary.skills}

        assert len(vocabulary.skills) >= 150
        assert {"language", "frontend", "backend", "data", "design", "product", "hiring"} <= (
            categories
        )

    def test_is_loaded_once(self) -> None:
        assert load_vocabulary() is load_vocabulary()

    def test_every_name_and_alias_is_found_in_a_skills_list(self) -> None:
        vocabulary = load_vocabulary()
        missed = [
            (term, skill.name)
            for skill in vocabulary.skills
            for term in (skill.name, *skill.aliases)
            if skill.name not in extract_skills(f"Skills: {term}, Teamwork")
        ]

        assert missed == []

    def test_a_spelling_claimed_by_two_skills_is_rejected(self) -> None:
        skills = [Skill("PostgreSQL", "database", ("postgres",)), Skill("Postgres", "database", ())]

        with pytest.raises(ValueError, match="claimed by PostgreSQL and Postgres"):
            Vocabulary(skills, rules={})


class TestCanonicalSkill:
    @pytest.mark.parametrize(
        ("spelling", "canonical"),
        [
            ("js", "JavaScript"),
            ("ECMAScript", "JavaScript"),
            ("postgres", "PostgreSQL"),
            ("psql", "PostgreSQL"),
            ("ml", "Machine Learning"),
            ("cpp", "C++"),
            ("c#", "C#"),
            ("golang", "Go"),
            ("go", "Go"),
            ("k8s", "Kubernetes"),
            ("  machine   LEARNING ", "Machine Learning"),
        ],
    )
    def test_any_known_spelling_in_any_case(self, spelling: str, canonical: str) -> None:
        assert canonical_skill(spelling) == canonical

    def test_unknown_skill(self) -> None:
        assert canonical_skill("Underwater Basket Weaving") is None


class TestExtractSkills:
    def test_returns_canonical_names_sorted_and_deduplicated(self) -> None:
        text = "Skills: postgres, Python, JS, javascript, PostgreSQL, scikit-learn, dbt"

        assert extract_skills(text) == ["dbt", "JavaScript", "PostgreSQL", "Python", "scikit-learn"]

    @pytest.mark.parametrize(
        ("text", "skills"),
        [
            ("C++, C# and .NET", [".NET", "C#", "C++"]),
            ("APIs in Node.js and Express.js", ["Express", "Node.js"]),
            ("Migrated ASP.NET Core apps", ["ASP.NET"]),
            (
                "Tools: CI/CD, A/B testing, UI/UX",
                ["A/B Testing", "CI/CD", "UI Design", "UX Design"],
            ),
        ],
    )
    def test_terms_with_symbols_match_as_written(self, text: str, skills: list[str]) -> None:
        assert extract_skills(text) == skills

    @pytest.mark.parametrize(
        ("text", "skills"),
        [
            ("JavaScript developer", ["JavaScript"]),  # not also Java
            ("PostgreSQL and NoSQL stores", ["NoSQL", "PostgreSQL"]),  # not SQL
            ("Node.js services", ["Node.js"]),  # "js" inside Node.js is not JavaScript
            ("Python3 and Pythonic code", ["Python"]),  # via the python3 alias only
        ],
    )
    def test_only_whole_words_match(self, text: str, skills: list[str]) -> None:
        assert extract_skills(text) == skills

    def test_multi_word_skills_match_across_line_breaks(self) -> None:
        text = "Practised Site Reliability\nEngineering and machine  learning"

        assert extract_skills(text) == ["Machine Learning", "Site Reliability Engineering"]

    def test_the_longest_overlapping_match_wins(self) -> None:
        assert extract_skills("Shipped apps in React Native") == ["React Native"]
        assert extract_skills("Pipelines on GitLab CI/CD") == ["GitLab CI"]

    def test_email_addresses_and_links_are_ignored(self) -> None:
        text = "jane.go@example.com | https://github.com/jane/vue-demo | www.sql.example"

        assert extract_skills(text) == []

    def test_empty_text(self) -> None:
        assert extract_skills("") == []


class TestAmbiguousWords:
    """Go, R, C and friends count only in a list-like context, written with their exact case."""

    @pytest.mark.parametrize(
        "text",
        [
            "Languages: Python, Go, SQL",
            "Built payment services in Go.",
            "Built services in Go and Python",
            "Go developer with Kafka experience",
            "- Go",
            "Go (Golang)",
        ],
    )
    def test_go_in_a_skill_context(self, text: str) -> None:
        assert "Go" in extract_skills(text)

    @pytest.mark.parametrize(
        "text",
        [
            "Go to market strategy for three launches",
            "Designed go-live checklists",
            "Ready to go, keen to learn",
            "Ready to Go, keen to learn",
        ],
    )
    def test_go_as_an_ordinary_word(self, text: str) -> None:
        assert "Go" not in extract_skills(text)

    @pytest.mark.parametrize(
        ("text", "skill"),
        [
            ("Python, R, SQL", "R"),
            ("Statistical analysis in R.", "R"),
            ("Skills: C, C++", "C"),
            ("Embedded C programming", "C"),
            ("Julia; Python", "Julia"),
        ],
    )
    def test_single_letters_in_a_skill_context(self, text: str, skill: str) -> None:
        assert skill in extract_skills(text)

    @pytest.mark.parametrize(
        ("text", "skill"),
        [
            ("Raised a Series C round", "C"),
            ("Led R&D for the platform", "R"),
            ("Reported to John R. Smith", "R"),
            ("Grade: c", "C"),
            ("Joined in Spring 2019", "Spring"),
            ("Worked with Julia Roberts on the launch", "Julia"),
        ],
    )
    def test_single_letters_and_names_elsewhere(self, text: str, skill: str) -> None:
        assert skill not in extract_skills(text)

    def test_case_rule_words_need_their_capital(self) -> None:
        assert extract_skills("swift delivery, rust removal, react quickly, excel at") == []
        assert extract_skills("Swift, Rust, React and Excel") == ["Excel", "React", "Rust", "Swift"]

    def test_spring_boot_is_always_spring(self) -> None:
        assert extract_skills("Java and Spring Boot microservices") == [
            "Java",
            "Microservices",
            "Spring",
        ]
