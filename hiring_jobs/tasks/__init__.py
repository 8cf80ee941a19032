"""Task modules, one per family. Importing this package registers every task on the app."""

from hiring_jobs.tasks import email, reliability, resume

__all__ = ["email", "reliability", "resume"]
