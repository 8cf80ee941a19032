"""A job's arguments checked against its task before the task runs.

Procrastinate calls `task(**job.args)`: arguments that cannot fit the function (missing,
unexpected, of the wrong type) would fail inside the task, often as a database DataError
that looks transient and is retried for minutes. Checked here, they fail the job at once
with a message that says which argument is wrong; such a failure is permanent.
"""

from __future__ import annotations

import inspect
import types
import typing
from functools import cache
from typing import Any

from procrastinate.tasks import Task

from hiring_jobs.logs import REQUEST_ID_ARG, TRACE_ARG
from hiring_jobs.queue.retry import PermanentError


class InvalidArguments(PermanentError):
    """The job's arguments do not fit its task: retrying cannot help."""


def check(task: Task[Any, Any, Any], kwargs: object) -> None:
    if not isinstance(kwargs, dict):
        raise InvalidArguments(
            f"job arguments must be a JSON object, got {type(kwargs).__name__}: {kwargs!r:.200}"
        )
    signature, hints = _signature(task.func)
    call_args = [None] if task.pass_context else []
    # Context carried for the logs and traces, never for the task (its middleware took it).
    visible = {k: v for k, v in kwargs.items() if k not in (REQUEST_ID_ARG, TRACE_ARG)}
    try:
        signature.bind(*call_args, **visible)
    except TypeError as exc:
        raise InvalidArguments(f"{task.name}: {exc}") from None
    for name, value in visible.items():
        expected = hints.get(name)
        if expected is not None and not _fits(value, expected):
            raise InvalidArguments(
                f"{task.name}: argument {name!r} must be {_describe(expected)},"
                f" got {type(value).__name__} {value!r:.100}"
            )


@cache
def _signature(func: Any) -> tuple[inspect.Signature, dict[str, Any]]:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # an annotation that does not resolve: check the names only
        hints = {}
    return inspect.signature(func), hints


def _fits(value: object, expected: Any) -> bool:
    """JSON values against simple annotations; anything more complex is trusted."""
    origin = typing.get_origin(expected)
    if expected is Any or expected is object:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, option) for option in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    if expected is list or origin is list:
        return isinstance(value, list)
    if expected is dict or origin is dict:
        return isinstance(value, dict)
    return True


def _describe(expected: Any) -> str:
    return getattr(expected, "__name__", None) or str(expected)
