"""Alembic migrations: the app's tables and Procrastinate's schema."""
