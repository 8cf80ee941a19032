"""Settings: defaults, and one clear error per unusable value."""

from __future__ import annotations

import pytest

from hiring_jobs.settings import Settings, SettingsError


def test_worker_batch_defaults_to_eight_and_accepts_one_to_a_thousand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HIRING_JOBS_WORKER_BATCH", raising=False)
    assert Settings.from_env().worker_batch == 8
    monkeypatch.setenv("HIRING_JOBS_WORKER_BATCH", "1")
    assert Settings.from_env().worker_batch == 1
    monkeypatch.setenv("HIRING_JOBS_WORKER_BATCH", "1000")
    assert Settings.from_env().worker_batch == 1000


@pytest.mark.parametrize("bad", ["0", "many", "1001"])
def test_worker_batch_out_of_range_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("HIRING_JOBS_WORKER_BATCH", bad)
    with pytest.raises(SettingsError, match="HIRING_JOBS_WORKER_BATCH"):
        Settings.from_env()


RETENTION_DEFAULTS = {
    "HIRING_JOBS_RETAIN_RESUME_DAYS": ("retain_resume_days", 180),
    "HIRING_JOBS_RETAIN_EMAIL_BODY_DAYS": ("retain_email_body_days", 30),
    "HIRING_JOBS_RETAIN_JOB_DETAILS_DAYS": ("retain_job_details_days", 14),
    "HIRING_JOBS_JOB_RETENTION_DAYS": ("job_retention_days", 30),
}


@pytest.mark.parametrize("variable", sorted(RETENTION_DEFAULTS))
def test_retention_days_have_defaults_and_accept_positive_days(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    field, default = RETENTION_DEFAULTS[variable]
    monkeypatch.delenv(variable, raising=False)
    assert getattr(Settings.from_env(), field) == default
    monkeypatch.setenv(variable, "1")
    assert getattr(Settings.from_env(), field) == 1
    monkeypatch.setenv(variable, " 365 ")
    assert getattr(Settings.from_env(), field) == 365


@pytest.mark.parametrize("variable", sorted(RETENTION_DEFAULTS))
@pytest.mark.parametrize("bad", ["0", "-3", "2.5", "forever", "36501"])
def test_retention_days_refuse_what_is_not_a_positive_number_of_days(
    monkeypatch: pytest.MonkeyPatch, variable: str, bad: str
) -> None:
    monkeypatch.setenv(variable, bad)
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env()
