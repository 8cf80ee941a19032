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
