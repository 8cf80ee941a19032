"""Task modules, one per family. Importing this package registers every task on the app."""

from hiring_jobs.tasks import (
    achievements,
    alerts,
    analytics,
    documents,
    email,
    maintenance,
    notifications,
    privacy,
    queue,
    recommendations,
    resume,
)

__all__ = [
    "achievements",
    "alerts",
    "analytics",
    "documents",
    "email",
    "maintenance",
    "notifications",
    "privacy",
    "queue",
    "recommendations",
    "resume",
]
