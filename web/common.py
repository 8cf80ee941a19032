"""Helpers shared by the admin views."""

from __future__ import annotations

from procrastinate import App

from hiring_jobs.app import app as procrastinate_app
from web.security import current_user


def jobs_app() -> App:
    """The Procrastinate app with every task module imported (task names, cron tasks)."""
    procrastinate_app.perform_import_paths()
    return procrastinate_app


def task_names() -> list[str]:
    return sorted(jobs_app().tasks)


def actor() -> str:
    user = current_user()
    assert user is not None  # every action view is behind operator_required
    return user.username
