"""The task's own frames out of a stored traceback, for the job page.

A failed attempt's traceback is mostly machinery: the worker's child process, the
execution supervisor, Procrastinate, asyncio. The frames an operator wants (the task's
code and the project's services) sit in the middle of an exception chain. This module
picks them out of the stored text; the page shows them first and the whole text one
click away. It only reads text: nothing here can hide a frame from the full view.
"""

from __future__ import annotations

import dataclasses
import re
import sysconfig

_FRAME = re.compile(r'^\s*File "(?P<path>[^"]*)", line (?P<line>\d+), in (?P<function>.+)$')
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(: .*)?$")
_NOT_EXCEPTIONS = ("Traceback (most recent call last):",)
_STDLIB = tuple(
    {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]} | {"/usr/lib/python3"}
)
# The job machinery: every attempt passes through it, so it says nothing about this one.
_MACHINERY = ("/site-packages/", "/dist-packages/", "/hiring_jobs/queue/")


@dataclasses.dataclass(frozen=True)
class Frame:
    path: str
    line: int
    function: str
    code: str

    def format(self) -> str:
        where = f'  File "{self.path}", line {self.line}, in {self.function}'
        return f"{where}\n    {self.code}" if self.code else where


@dataclasses.dataclass(frozen=True)
class TaskFrames:
    frames: list[Frame]
    exception: str | None  # the exception line ending the last part with a task frame

    def format(self) -> str:
        lines = [frame.format() for frame in self.frames]
        if self.exception:
            lines.append(self.exception)
        return "\n".join(lines)


def is_machinery(path: str) -> bool:
    """Frames of the worker, libraries and the standard library (not the task's code)."""
    return (
        path.startswith("<") or any(part in path for part in _MACHINERY) or path.startswith(_STDLIB)
    )


def task_frames(text: str | None) -> TaskFrames:
    """The task's frames in order, each once (a chained traceback repeats some), and the
    exception they raised; empty when the traceback has none (a time limit, a crash)."""
    frames: list[Frame] = []
    exception: str | None = None
    # A task frame was read since the last exception line: the next exception line (after
    # any library frames below the task's) is what the task's code let out.
    after_task_frame = False
    current: dict[str, str] | None = None
    for line in (text or "").splitlines():
        if match := _FRAME.match(line):
            _flush(current, frames)
            current = {**match.groupdict(), "code": ""}
            after_task_frame = after_task_frame or not is_machinery(current["path"])
        elif line.startswith((" ", "\t")):
            if current is not None and not current["code"] and line.strip(" ^~\t"):
                current["code"] = line.strip()
        else:
            _flush(current, frames)
            current = None
            stripped = line.strip()
            if after_task_frame and _is_exception_line(stripped):
                exception, after_task_frame = stripped, False
    _flush(current, frames)
    return TaskFrames(_unique(frames), exception)


def _flush(current: dict[str, str] | None, frames: list[Frame]) -> None:
    if current is not None and not is_machinery(current["path"]):
        frames.append(
            Frame(current["path"], int(current["line"]), current["function"], current["code"])
        )


def _is_exception_line(line: str) -> bool:
    return bool(line) and line not in _NOT_EXCEPTIONS and bool(_EXCEPTION.match(line))


def _unique(frames: list[Frame]) -> list[Frame]:
    seen: set[tuple[str, int, str]] = set()
    kept: list[Frame] = []
    for frame in frames:
        key = (frame.path, frame.line, frame.function)
        if key not in seen:
            seen.add(key)
            kept.append(frame)
    return kept
