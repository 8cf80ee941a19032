"""Named SQL of the web app's own pages (hiring_jobs/sql/__init__.py reads them)."""

from hiring_jobs.sql import load

ADMIN = load(__name__, "admin.sql")
