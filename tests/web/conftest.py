"""An app with an operator and a viewer account, and clients logged in as each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hiring_jobs import settings
from tests.web.helpers import ADMIN, ADMIN_HASH, VIEWER, VIEWER_HASH, log_in
from web import create_app


@pytest.fixture
def accounts(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HIRING_JOBS_ADMIN_USERNAME", ADMIN[0])
    monkeypatch.setenv("HIRING_JOBS_ADMIN_PASSWORD", ADMIN_HASH)
    monkeypatch.setenv("HIRING_JOBS_VIEWER_USERNAME", VIEWER[0])
    monkeypatch.setenv("HIRING_JOBS_VIEWER_PASSWORD", VIEWER_HASH)
    settings.get_settings.cache_clear()
    yield
    settings.get_settings.cache_clear()


@pytest.fixture
def app(accounts: None) -> Flask:
    return create_app({"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def operator(app: Flask) -> FlaskClient:
    client = app.test_client()
    log_in(client, *ADMIN)
    return client


@pytest.fixture
def viewer(app: Flask) -> FlaskClient:
    client = app.test_client()
    log_in(client, *VIEWER)
    return client
