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
    recommendations,
    reliability,
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
    "recommendations",
    "reliability",
    "resume",
]
