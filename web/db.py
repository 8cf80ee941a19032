"""The web app's one way to the database: a session per request, closed at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.db import database_url, make_engine

_EXTENSION = "hiring_jobs.db"


def init_app(app: Flask) -> None:
    url = app.config["DATABASE_URL"] or database_url()
    engine = make_engine(url, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 5})
    app.extensions[_EXTENSION] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_engine() -> Engine:
    factory: sessionmaker[Session] = current_app.extensions[_EXTENSION]
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    return engine


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions[_EXTENSION]()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
