"""docker-compose.yml is in production shape and every service runs a real CLI command.

No Docker engine runs here, so the file is checked by reading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from hiring_jobs.cli import main

COMPOSE = yaml.safe_load((Path(__file__).parent.parent / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APP_SERVICES = ["migrate", "web", "worker"]


def test_postgres_uses_the_official_image_a_named_volume_and_a_healthcheck() -> None:
    postgres = SERVICES["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "pgdata:/var/lib/postgresql/data" in postgres["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "pgdata" in COMPOSE["volumes"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_runs_a_real_cli_command(name: str) -> None:
    program, subcommand, *args = SERVICES[name]["command"]
    assert program == "hiring-jobs"
    command = main.get_command(click.Context(main), subcommand)
    assert command is not None, f"{subcommand} is not a hiring-jobs command"
    command.make_context(subcommand, list(args))  # raises on an unknown option or bad value


def test_migrate_runs_once_before_web_and_workers() -> None:
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        condition = SERVICES[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"


def test_workers_give_every_queue_its_own_slots() -> None:
    from hiring_jobs.queue import slots

    command = SERVICES["worker"]["command"]
    parsed = slots.parse(command[command.index("--queues") + 1])
    assert slots.unknown_queues(parsed) == []
    assert {"email", "resume", "maintenance"} <= set(parsed.queue_names)
    assert parsed.other > 0, "jobs of any other queue are served too"


def test_workers_can_be_scaled_and_stop_gracefully() -> None:
    worker = SERVICES["worker"]
    # A fixed container_name or host port would make `--scale worker=N` fail.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["stop_grace_period"]


def test_every_app_service_reaches_the_database_server() -> None:
    for name in APP_SERVICES:
        assert "@postgres:5432/" in SERVICES[name]["environment"]["DATABASE_URL"]
