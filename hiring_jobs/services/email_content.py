"""What emails say beyond their templates: status wording, matched skills, report rows."""

from __future__ import annotations

from collections.abc import Mapping

from hiring_jobs.models import ApplicationStatus, JobPosting, User

# (label, sentence) per application status, as the candidate reads it.
STATUS_WORDS: dict[ApplicationStatus, tuple[str, str]] = {
    ApplicationStatus.APPLIED: (
        "Application received",
        "We received your application and passed it to the hiring team.",
    ),
    ApplicationStatus.SCREENING: (
        "In review",
        "The hiring team is reviewing your application.",
    ),
    ApplicationStatus.INTERVIEW_SCHEDULED: (
        "Interview scheduled",
        "Good news: the hiring team would like to interview you.",
    ),
    ApplicationStatus.OFFERED: (
        "Offer made",
        "Congratulations: the company has made you an offer.",
    ),
    ApplicationStatus.HIRED: ("Hired", "Congratulations on your new job!"),
    ApplicationStatus.REJECTED: (
        "Not selected",
        "The hiring team decided not to move forward with your application this time.",
    ),
    ApplicationStatus.WITHDRAWN: ("Withdrawn", "Your application has been withdrawn."),
}


def matched_skills(user: User, posting: JobPosting) -> list[str]:
    mine = {skill.skill.casefold() for skill in user.skills}
    wanted = [*posting.required_skills, *posting.nice_to_have_skills]
    return [skill for skill in wanted if skill.casefold() in mine]


def stat_rows(stats: Mapping[str, int | float | str]) -> list[tuple[str, str]]:
    return [(name.replace("_", " ").capitalize(), _number(stats[name])) for name in sorted(stats)]


def _number(value: int | float | str) -> str:
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
