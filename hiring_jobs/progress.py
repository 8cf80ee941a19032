"""How long work reports its steps without knowing who listens: a terminal's progress bar
(hiring_jobs.cli_support.progress_bar) or nobody (`silent`)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, step: str, done: int, total: int) -> None:
        """`step` just finished; `done` of `total` steps are."""


def silent(step: str, done: int, total: int) -> None:
    """Nobody is watching."""
