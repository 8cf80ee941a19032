"""All configuration, read once from environment variables.

Every variable is documented in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

import dataclasses
import os
from functools import cache
from pathlib import Path

import platformdirs


class SettingsError(ValueError):
    """A configuration variable holds a value we cannot use."""


# Retention periods are whole days from 1 to a century: 0 would remove data as it is
# written, and far larger values overflow date arithmetic.
MAX_RETENTION_DAYS = 36500


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _env_int_between(name: str, default: int, low: int, high: int) -> int:
    value = _env_int(name, default)
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _retention_days(name: str, default: int) -> int:
    return _env_int_between(name, default, 1, MAX_RETENTION_DAYS)


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _choice(name: str, default: str, allowed: set[str]) -> str:
    value = _env(name, default).lower()
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(sorted(allowed))}, got {value!r}")
    return value


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in _env(name).split(",") if item.strip())


@dataclasses.dataclass(frozen=True)
class Settings:
    # Empty means: use the embedded PostgreSQL kept in data_dir.
    database_url: str
    data_dir: Path
    log_level: str
    web_host: str
    web_port: int
    public_url: str
    secret_key: str
    admin_username: str
    admin_password: str
    viewer_username: str
    viewer_password: str
    secure_cookies: bool
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_security: str  # "starttls", "ssl" or "none"
    mail_from: str
    # Signs alert webhook calls (hiring_jobs/alerts.py): HMAC-SHA256 of the body.
    alert_webhook_secret: str
    # OpenTelemetry (hiring_jobs/tracing.py): an OTLP/HTTP traces URL turns tracing on.
    otel_endpoint: str
    otel_service_name: str
    # Slots of each queue given without a number; None: each queue's default (queue/slots.py).
    worker_concurrency: int | None
    worker_processes: int
    worker_queues: tuple[str, ...]
    # Jobs fetched and finished per statement by a worker (queue/batching.py); 1 runs
    # Procrastinate's own worker loop unchanged.
    worker_batch: int
    shutdown_timeout: float
    max_upload_bytes: int
    task_modules: tuple[str, ...]
    log_format: str  # "json" or "text"
    email_rate_per_minute: int
    job_retention_days: int
    max_tasks_per_child: int
    max_memory_per_child_mib: int
    heartbeat_seconds: float
    rescue_interval_seconds: int
    # Retention of personal data, in days (privacy/retention.py): resume text and files
    # after the candidate's last application closed, mail bodies after sending, and the
    # arguments, errors and results of finished jobs.
    retain_resume_days: int
    retain_email_body_days: int
    retain_job_details_days: int

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url

    @property
    def stalled_after_seconds(self) -> float:
        """A worker silent for three heartbeats is dead; its jobs get rescued. A worker
        stops its own jobs after two heartbeats without a renewal (queue/manager.py), so
        a rescued job has stopped for at least one heartbeat."""
        return 3 * self.heartbeat_seconds

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def files_dir(self) -> Path:
        """Uploaded resumes, generated PDFs, thumbnails and exports."""
        return self.data_dir / "files"

    @classmethod
    def from_env(cls) -> Settings:
        default_data_dir = platformdirs.user_data_path("hiring-jobs")
        smtp_security = _choice(
            "HIRING_JOBS_SMTP_SECURITY", "starttls", {"starttls", "ssl", "none"}
        )
        queues = _env_list("HIRING_JOBS_WORKER_QUEUES")
        return cls(
            database_url=_env("DATABASE_URL"),
            data_dir=Path(_env("HIRING_JOBS_DATA_DIR") or default_data_dir).expanduser().resolve(),
            log_level=_env("HIRING_JOBS_LOG_LEVEL", "INFO").upper(),
            web_host=_env("HIRING_JOBS_WEB_HOST", "127.0.0.1"),
            web_port=_env_int("HIRING_JOBS_WEB_PORT", 8000),
            public_url=_env("HIRING_JOBS_PUBLIC_URL").rstrip("/"),
            secret_key=_env("HIRING_JOBS_SECRET_KEY"),
            admin_username=_env("HIRING_JOBS_ADMIN_USERNAME", "admin"),
            admin_password=_env("HIRING_JOBS_ADMIN_PASSWORD"),
            viewer_username=_env("HIRING_JOBS_VIEWER_USERNAME", "viewer"),
            viewer_password=_env("HIRING_JOBS_VIEWER_PASSWORD"),
            secure_cookies=_choice("HIRING_JOBS_SECURE_COOKIES", "true", {"true", "false"})
            == "true",
            smtp_host=_env("HIRING_JOBS_SMTP_HOST"),
            smtp_port=_env_int("HIRING_JOBS_SMTP_PORT", 587),
            smtp_username=_env("HIRING_JOBS_SMTP_USERNAME"),
            smtp_password=_env("HIRING_JOBS_SMTP_PASSWORD"),
            smtp_security=smtp_security,
            mail_from=_env("HIRING_JOBS_MAIL_FROM", "Hiring Jobs <noreply@hiring-jobs.local>"),
            alert_webhook_secret=_env("HIRING_JOBS_ALERT_WEBHOOK_SECRET"),
            otel_endpoint=_env("HIRING_JOBS_OTEL_ENDPOINT"),
            otel_service_name=_env("HIRING_JOBS_OTEL_SERVICE_NAME", "hiring-jobs"),
            worker_concurrency=_env_int_between("HIRING_JOBS_WORKER_CONCURRENCY", 0, 0, 1000)
            or None,
            worker_processes=max(1, _env_int("HIRING_JOBS_WORKER_PROCESSES", os.cpu_count() or 1)),
            worker_queues=queues,
            worker_batch=_env_int_between("HIRING_JOBS_WORKER_BATCH", 8, 1, 1000),
            shutdown_timeout=_env_float("HIRING_JOBS_SHUTDOWN_TIMEOUT", 30.0),
            max_upload_bytes=_env_int("HIRING_JOBS_MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
            task_modules=_env_list("HIRING_JOBS_TASK_MODULES"),
            log_format=_choice("HIRING_JOBS_LOG_FORMAT", "text", {"json", "text"}),
            email_rate_per_minute=max(1, _env_int("HIRING_JOBS_EMAIL_RATE_PER_MINUTE", 120)),
            job_retention_days=_retention_days("HIRING_JOBS_JOB_RETENTION_DAYS", 30),
            max_tasks_per_child=max(1, _env_int("HIRING_JOBS_MAX_TASKS_PER_CHILD", 1000)),
            max_memory_per_child_mib=_env_int_between(
                "HIRING_JOBS_MAX_MEMORY_PER_CHILD", 400, 50, 1_000_000
            ),
            heartbeat_seconds=_env_float("HIRING_JOBS_HEARTBEAT_SECONDS", 10.0),
            rescue_interval_seconds=min(
                59, max(1, _env_int("HIRING_JOBS_RESCUE_INTERVAL_SECONDS", 15))
            ),
            retain_resume_days=_retention_days("HIRING_JOBS_RETAIN_RESUME_DAYS", 180),
            retain_email_body_days=_retention_days("HIRING_JOBS_RETAIN_EMAIL_BODY_DAYS", 30),
            retain_job_details_days=_retention_days("HIRING_JOBS_RETAIN_JOB_DETAILS_DAYS", 14),
        )


@cache
def get_settings() -> Settings:
    """The process-wide settings. Tests that change the environment call cache_clear()."""
    return Settings.from_env()
