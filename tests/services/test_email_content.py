"""What emails say beyond their templates."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hiring_jobs.models import ApplicationStatus, UserSkill
from hiring_jobs.services.email_content import STATUS_WORDS, matched_skills, stat_rows
from tests.support.factories import make_posting, make_user


def test_every_application_status_has_a_label_and_a_sentence() -> None:
    assert set(STATUS_WORDS) == set(ApplicationStatus)
    assert all(label and sentence.endswith((".", "!")) for label, sentence in STATUS_WORDS.values())


def test_matched_skills_keep_the_postings_order_and_ignore_case(session: Session) -> None:
    user = make_user(session)
    session.add_all(UserSkill(user_id=user.id, skill=skill) for skill in ("python", "SQL"))
    posting = make_posting(
        session, required_skills=["SQL", "Go"], nice_to_have_skills=["Python", "Rust"]
    )
    session.refresh(user)
    assert matched_skills(user, posting) == ["SQL", "Python"]


def test_report_rows_are_sorted_by_name_with_readable_numbers() -> None:
    rows = stat_rows({"new_users": 12345, "average_fit": 71.5, "top_skill": "sql", "ok": True})
    assert rows == [
        ("Average fit", "71.5"),
        ("New users", "12,345"),
        ("Ok", "True"),
        ("Top skill", "sql"),
    ]
