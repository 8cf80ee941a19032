"""Task modules, one per family. Importing this package registers every task on the app."""

from hiring_jobs.tasks import (
    achievements,
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
