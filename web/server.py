"""`hiring-jobs web`: the app under gunicorn, the production WSGI server."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from web import create_app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app()


def serve(host: str, port: int, *, workers: int = 2, threads: int = 4) -> None:
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            # The app is built in each worker, after the fork: no shared DB connections.
            "preload_app": False,
            "accesslog": "-",
            "graceful_timeout": 10,
            # Gunicorn 25.1+ opens a control socket for `gunicornc` by default, in
            # $XDG_RUNTIME_DIR or else a ~/.gunicorn/ it creates. We do not use it, and two
            # servers of one user would share its path.
            "control_socket_disable": True,
        }
    ).run()
