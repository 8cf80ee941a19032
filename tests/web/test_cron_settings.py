"""Cron at run time from the Periodic page, the API and the CLI: enable, disable and the
catch-up policy, audited; a disabled task is never reported as missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.cli import main
from tests.web.helpers import post, post_json
from tests.web.test_pages import _nightly_schedule, _system_ran_since, cron_task  # noqa: F401

KEY = "tests.web.nightly:"
pytestmark = pytest.mark.usefixtures("cron_task")


def _audited(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                text("SELECT action FROM audit_log WHERE action LIKE 'periodic.%' ORDER BY id")
            )
        )


def test_an_operator_disables_enables_and_sets_the_catch_up_from_the_page(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    _system_ran_since(session_factory, datetime.now(UTC) - timedelta(days=2))
    assert _nightly_schedule(operator)["missed_tick"] is not None

    assert post(operator, f"/admin/periodic/{KEY}/disable").status_code == 302
    schedule = _nightly_schedule(operator)
    assert schedule["enabled"] is False
    assert schedule["missed_tick"] is None, "disabled: nothing is missed"
    row = operator.get("/admin/periodic").data.decode()
    assert f'data-periodic="{KEY}"' in row and "disabled" in row

    response = post(
        operator, f"/admin/periodic/{KEY}/catch-up", {"catch_up": "each", "window_minutes": "90"}
    )
    assert response.status_code == 302
    assert post(operator, f"/admin/periodic/{KEY}/enable").status_code == 302
    schedule = _nightly_schedule(operator)
    assert (schedule["enabled"], schedule["catch_up"], schedule["window_seconds"]) == (
        True, "each", 5400,
    )  # fmt: skip
    assert _audited(session_factory) == ["periodic.disable", "periodic.catch_up", "periodic.enable"]


def test_the_api_changes_settings_and_refuses_bad_ones_with_a_4xx(
    operator: FlaskClient, viewer: FlaskClient
) -> None:
    body = post_json(operator, f"/api/periodic/{KEY}/catch-up", {"catch_up": "once"}).get_json()
    assert body["catch_up"] == "once" and body["window_seconds"] == 24 * 3600
    assert post_json(operator, f"/api/periodic/{KEY}/disable").get_json()["enabled"] is False
    bad = post_json(operator, f"/api/periodic/{KEY}/catch-up", {"catch_up": "sometimes"})
    assert bad.status_code == 400 and "skip, once or each" in bad.get_json()["error"]
    too_short = post_json(
        operator, f"/api/periodic/{KEY}/catch-up", {"catch_up": "each", "window_minutes": 0}
    )
    assert too_short.status_code == 400
    assert post_json(operator, "/api/periodic/nope:x/disable").status_code == 404
    assert post_json(operator, f"/api/periodic/{KEY}/explode").status_code == 404
    assert post_json(viewer, f"/api/periodic/{KEY}/enable").status_code == 403
    assert operator.post(f"/admin/periodic/{KEY}/enable").status_code == 400, "no CSRF token"


def test_the_cli_changes_settings(session_factory: sessionmaker[Session]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["cron", "disable", KEY, "--by", "ops"])
    assert result.exit_code == 0 and result.output == f"{KEY} is disabled\n"
    result = runner.invoke(
        main, ["cron", "catch-up", KEY, "each", "--window-minutes", "30", "--by", "ops"]
    )
    assert result.exit_code == 0, result.output
    missing = runner.invoke(main, ["cron", "enable", "nope:x"])
    assert missing.exit_code == 1 and "no cron task 'nope:x'" in missing.output
    with session_factory() as session:
        row = session.execute(
            text("SELECT enabled, catch_up, window_seconds, updated_by FROM periodic_settings")
        ).one()
    assert tuple(row) == (False, "each", 1800, "ops")
