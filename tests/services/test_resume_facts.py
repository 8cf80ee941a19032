"""Years of experience and education, read from resume text."""

from __future__ import annotations

from datetime import date

import pytest

from hiring_jobs.services.resume_facts import education, years_of_experience

TODAY = date(2024, 1, 1)


class TestExplicitClaims:
    @pytest.mark.parametrize(
        ("text", "years"),
        [
            ("Backend engineer with 7 years of experience.", 7.0),
            ("5+ years building APIs", 5.0),
            ("Over ten years' professional experience in retail", 10.0),
            ("2.5 yrs of industry experience", 2.5),
            ("3 years of Python experience and 8 years of experience overall", 8.0),
        ],
    )
    def test_stated_years(self, text: str, years: float) -> None:
        assert years_of_experience(text, today=TODAY) == years

    def test_years_that_are_not_about_experience(self) -> None:
        assert (
            years_of_experience("Signed a 2 years contract; 3 years warranty", today=TODAY) is None
        )

    def test_no_clue_at_all(self) -> None:
        assert years_of_experience("Jane Doe\nPython, SQL", today=TODAY) is None


class TestDateRanges:
    @pytest.mark.parametrize(
        ("text", "years"),
        [
            ("Engineer, Acme, 2016 - 2021", 5.0),  # a bare year stands for its middle
            ("Engineer, Acme, 2016\u20132021", 5.0),  # en dash, no spaces
            ("Engineer, Acme, Jan 2019 \u2013 Present", 5.0),
            ("Engineer, Acme, January 2019 to current", 5.0),
            ("Engineer, Acme, Jan 2019 - Jun 2019", 0.5),  # the end month counts
            ("Engineer, Acme, 03/2019 - 08/2021", 2.5),
            ("Engineer, Acme, Sept. 2020 until Aug 2022", 2.0),
        ],
    )
    def test_one_range(self, text: str, years: float) -> None:
        assert years_of_experience(text, today=TODAY) == years

    def test_present_means_today(self) -> None:
        text = "Engineer, Acme, Jan 2020 - Present"

        assert years_of_experience(text, today=date(2022, 1, 1)) == 2.0
        assert years_of_experience(text, today=date(2023, 7, 2)) == 3.5

    def test_separate_jobs_add_up(self) -> None:
        text = "Analyst, Foo, 2010 - 2012\nEngineer, Bar, 2015 - 2018"

        assert years_of_experience(text, today=TODAY) == 5.0

    def test_overlapping_jobs_count_once(self) -> None:
        text = "Engineer, Foo, 2015 - 2020\nFreelance, Self-employed, 2018 - 2022"

        assert years_of_experience(text, today=TODAY) == 7.0

    def test_a_job_inside_another_adds_nothing(self) -> None:
        text = "Engineer, Foo, Jan 2015 - Dec 2020\nMeetup organiser, Mar 2016 - Apr 2017"

        assert years_of_experience(text, today=TODAY) == 6.0

    def test_education_section_dates_are_not_work(self) -> None:
        text = (
            "Experience\nEngineer, Acme, 2018 - 2022\n"
            "Education\nBSc Physics, University of Leeds, 2010 - 2014"
        )

        assert years_of_experience(text, today=TODAY) == 4.0

    def test_degree_lines_are_not_work_without_headings(self) -> None:
        text = "Engineer, Acme, 2018 - 2022\nBSc Physics, University of Leeds, 2010 - 2014"

        assert years_of_experience(text, today=TODAY) == 4.0

    def test_the_larger_of_claim_and_ranges_wins(self) -> None:
        only_recent_jobs = "12 years of experience\nEngineer, Acme, 2020 - 2022"
        claim_rounded_down = "5+ years\nEngineer, Acme, Jan 2016 - Present"

        assert years_of_experience(only_recent_jobs, today=TODAY) == 12.0
        assert years_of_experience(claim_rounded_down, today=TODAY) == 8.0

    def test_nonsense_ranges_are_ignored(self) -> None:
        assert years_of_experience("Engineer, Acme, 2021 - 2016", today=TODAY) is None

    def test_future_end_dates_stop_at_today(self) -> None:
        assert years_of_experience("Contract, Acme, 2022 - 2030", today=TODAY) == 1.5


class TestEducation:
    def test_degree_field_institution_and_year_on_one_line(self) -> None:
        text = "Education\nPhD in Machine Learning, Stanford University, 2020"

        assert education(text) == [
            {
                "level": "PhD",
                "field": "Machine Learning",
                "institution": "Stanford University",
                "year": 2020,
            }
        ]

    @pytest.mark.parametrize(
        ("line", "level", "field"),
        [
            ("Ph.D. Computational Biology", "PhD", "Computational Biology"),
            ("Doctor of Philosophy in Physics", "PhD", "Physics"),
            ("Master of Science in Data Science", "Master", "Data Science"),
            ("Master's degree in Economics", "Master", "Economics"),
            ("M.Sc. Applied Mathematics", "Master", "Applied Mathematics"),
            ("MS in Computer Science", "Master", "Computer Science"),
            ("MBA", "Master", "Business Administration"),
            ("Bachelor of Arts in Visual Communication", "Bachelor", "Visual Communication"),
            ("B.Sc. Computer Science", "Bachelor", "Computer Science"),
            ("BEng Mechanical Engineering", "Bachelor", "Mechanical Engineering"),
            ("BA in History", "Bachelor", "History"),
            ("Associate of Applied Science in Nursing", "Associate", "Nursing"),
            ("Associate degree in Accounting", "Associate", "Accounting"),
            ("Diploma in Graphic Design", "Diploma", "Graphic Design"),
        ],
    )
    def test_degree_levels_and_fields(self, line: str, level: str, field: str) -> None:
        [entry] = education(line)

        assert (entry["level"], entry["field"]) == (level, field)

    def test_institution_on_the_next_line(self) -> None:
        text = "Education\nBSc Physics\nUniversity of Leeds, 2010 - 2014"

        assert education(text) == [
            {
                "level": "Bachelor",
                "field": "Physics",
                "institution": "University of Leeds",
                "year": 2014,
            }
        ]

    def test_institution_first_and_abbreviation_in_brackets(self) -> None:
        text = "Technical University of Munich - Master of Science (M.Sc.) in Informatics, 2016"

        assert education(text) == [
            {
                "level": "Master",
                "field": "Informatics",
                "institution": "Technical University of Munich",
                "year": 2016,
            }
        ]

    def test_missing_parts_are_none(self) -> None:
        assert education("Bachelor's degree") == [
            {"level": "Bachelor", "field": None, "institution": None, "year": None}
        ]

    def test_high_school_diploma(self) -> None:
        [entry] = education("High School Diploma, Lincoln High School, 2009")

        assert entry == {
            "level": "Diploma",
            "field": None,
            "institution": "Lincoln High School",
            "year": 2009,
        }

    def test_several_degrees_in_order(self) -> None:
        text = (
            "Education\n"
            "M.Sc. Computer Science - Technical University of Munich, 2016\n"
            "B.Sc. Computer Science - University of Lagos, 2013"
        )

        assert [(e["level"], e["institution"]) for e in education(text)] == [
            ("Master", "Technical University of Munich"),
            ("Bachelor", "University of Lagos"),
        ]

    @pytest.mark.parametrize(
        "text",
        [
            "Certified Scrum Master, 2019",
            "Associate Product Manager at Acme",
            "Expert in MS Office and MS SQL",
            "Worked as a BA (business analyst)",
            "Master the art of code review",
        ],
    )
    def test_look_alikes_are_not_degrees(self, text: str) -> None:
        assert education(text) == []

    def test_only_the_education_section_is_read_when_there_is_one(self) -> None:
        text = (
            "Experience\nMentored Master's students at the University of Oslo, 2019 - 2021\n"
            "Education\nBSc Biology, University of Bergen, 2012"
        )

        assert [e["level"] for e in education(text)] == ["Bachelor"]
