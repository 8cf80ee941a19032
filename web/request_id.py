"""A request id for every request: taken from X-Request-ID (a proxy's) or made here.

It is bound to the log context for the request, so `defer` copies it into every job the
request enqueues and the job's attempts and logs carry it (see hiring_jobs.logs); the
response echoes it in X-Request-ID.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from hiring_jobs.logs import bind, unbind

HEADER = "X-Request-ID"
# A proxy's id is kept only if it looks like one: it ends up in logs and job arguments.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,100}")


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_echo)
    app.teardown_request(_end)


def _start() -> None:
    offered = request.headers.get(HEADER, "")
    g.request_id = offered if _ACCEPTABLE.fullmatch(offered) else uuid.uuid4().hex
    g.request_log_token = bind(request_id=g.request_id)


def _echo(response: Response) -> Response:
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("request_log_token", None)
    if token is not None:
        unbind(token)
