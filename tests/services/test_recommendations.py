"""Recommendations against real PostgreSQL: what each kind picks, and why, and the cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs.models import (
    Application,
    Connection,
    Course,
    CourseEnrollment,
    MentoringSession,
    PostingStatus,
    RecommendationCache,
    RecommendationKind,
    User,
    UserRole,
    UserSkill,
)
from hiring_jobs.services import recommendations
from tests.support.factories import make_posting, make_user
from tests.support.jobs import jobs

NOW = datetime.now(UTC)


def _skills(session: Session, user: User, *skills: str) -> None:
    session.add_all(UserSkill(user_id=user.id, skill=skill) for skill in skills)
    session.flush()


@pytest.fixture
def seeker(session: Session) -> User:
    user = make_user(session, last_active_at=NOW)
    _skills(session, user, "Python", "PostgreSQL")
    return user


def _titles(items: list[dict[str, object]], key: str = "title") -> list[object]:
    return [item[key] for item in items]


def test_jobs_match_skills_and_skip_applied_and_closed_postings(
    session: Session, seeker: User
) -> None:
    best = make_posting(
        session,
        title="Backend",
        required_skills=["python", "PostgreSQL", "Docker"],
        nice_to_have_skills=["Go"],
    )
    make_posting(session, title="Java only", required_skills=["Java"])
    make_posting(session, title="Closed", required_skills=["Python"], status=PostingStatus.CLOSED)
    applied = make_posting(session, title="Applied", required_skills=["Python"])
    session.add(Application(candidate_id=seeker.id, job_posting_id=applied.id))
    session.flush()

    items = recommendations.recommend(session, seeker.id, RecommendationKind.JOBS, NOW)

    assert items == [
        {
            "job_posting_id": best.id,
            "title": "Backend",
            "company": "Acme",
            "location": "",
            "matched_skills": ["python", "PostgreSQL"],
            "score": 57,  # (2 required x 2) of (3 required x 2 + 1 nice)
        }
    ]


def test_courses_teach_wanted_skills_the_user_lacks(session: Session, seeker: User) -> None:
    make_posting(session, required_skills=["Docker", "Python"])
    make_posting(session, required_skills=["Docker"])
    make_posting(session, required_skills=["Java"])
    docker = Course(title="Docker", skills=["Docker", "Kubernetes"])
    java = Course(title="Java", skills=["Java"])
    python = Course(title="Python", skills=["Python"])  # nothing new
    taken = Course(title="Taken", skills=["Docker"])
    session.add_all([docker, java, python, taken])
    session.flush()
    session.add(CourseEnrollment(user_id=seeker.id, course_id=taken.id))
    session.flush()

    items = recommendations.recommend(session, seeker.id, RecommendationKind.COURSES, NOW)

    assert _titles(items) == ["Docker", "Java"]
    assert items[0]["teaches"] == ["Docker", "Kubernetes"]


def test_skills_in_applied_postings_come_first(session: Session, seeker: User) -> None:
    applied = make_posting(session, required_skills=["Python", "Rust"])
    make_posting(session, required_skills=["Docker"])
    make_posting(session, required_skills=["Docker", "python"])
    session.add(Application(candidate_id=seeker.id, job_posting_id=applied.id))
    session.flush()

    items = recommendations.recommend(session, seeker.id, RecommendationKind.SKILLS, NOW)

    assert items == [
        {"skill": "Rust", "open_postings": 1, "in_your_applications": 1},
        {"skill": "Docker", "open_postings": 2, "in_your_applications": 0},
    ]


def test_mentors_who_teach_missing_skills_rank_first(session: Session, seeker: User) -> None:
    make_posting(session, required_skills=["Docker"])
    teacher = make_user(session, role=UserRole.MENTOR, full_name="Teacher", last_active_at=NOW)
    peer = make_user(session, role=UserRole.MENTOR, full_name="Peer")
    busy = make_user(session, role=UserRole.MENTOR, full_name="Busy")
    candidate = make_user(session, full_name="Not a mentor")
    _skills(session, teacher, "Docker")
    _skills(session, peer, "Python")
    _skills(session, candidate, "Docker")
    session.add(MentoringSession(mentor_id=busy.id, mentee_id=seeker.id, topic="x"))
    session.flush()

    items = recommendations.recommend(session, seeker.id, RecommendationKind.MENTORS, NOW)

    assert [(i["name"], i["can_teach"], i["shared_skills"]) for i in items] == [
        ("Teacher", ["Docker"], []),
        ("Peer", [], ["Python"]),
    ]
    assert items[0]["score"] == 3 + 2  # one missing skill, recently active


def test_connections_by_mutual_friends_and_shared_skills(session: Session, seeker: User) -> None:
    friend, friend_of_friend = make_user(session), make_user(session, full_name="FoF")
    same_skills = make_user(session, full_name="Pythonista")
    admin = make_user(session, role=UserRole.ADMIN)
    stranger = make_user(session)
    _skills(session, same_skills, "Python")
    _skills(session, admin, "Python")
    _skills(session, stranger, "Cobol")
    for a, b in ((seeker, friend), (friend, friend_of_friend)):
        session.add_all(
            [
                Connection(user_id=a.id, other_user_id=b.id),
                Connection(user_id=b.id, other_user_id=a.id),
            ]
        )
    session.flush()

    items = recommendations.recommend(session, seeker.id, RecommendationKind.CONNECTIONS, NOW)

    assert [(i["name"], i["mutual_connections"], i["shared_skills"]) for i in items] == [
        ("FoF", 1, []),
        ("Pythonista", 0, ["Python"]),
    ]


def test_refresh_replaces_the_cached_rows(session: Session, seeker: User) -> None:
    make_posting(session, required_skills=["Python"])
    kinds = list(RecommendationKind)

    first = recommendations.refresh(session, seeker.id, kinds, NOW - timedelta(hours=1))
    make_posting(session, required_skills=["PostgreSQL"])
    second = recommendations.refresh(session, seeker.id, kinds, NOW)

    assert first is not None and second is not None
    assert (first["jobs"], second["jobs"]) == (1, 2)
    rows = session.scalars(select(RecommendationCache)).all()
    assert len(rows) == len(kinds)
    assert {row.computed_at for row in rows} == {NOW}
    assert recommendations.refresh(session, 999_999, kinds, NOW) is None


def test_one_pending_recomputation_per_user(session: Session, seeker: User) -> None:
    other = make_user(session)

    first = recommendations.request_refresh(session, seeker.id)
    second = recommendations.request_refresh(session, seeker.id)
    third = recommendations.request_refresh(session, other.id)

    assert first is not None and second is None and third is not None
    queued = jobs(session, "recommendations.generate_for_user")
    assert [job["queueing_lock"] for job in queued] == [
        f"recommendations:{seeker.id}",
        f"recommendations:{other.id}",
    ]
    assert session.scalar(select(User.id).where(User.id == other.id)) == other.id  # usable
