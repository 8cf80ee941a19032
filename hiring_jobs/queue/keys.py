"""Per-key concurrency and rate limits, and fair share between keys.

A task declares a key from one of its arguments (`tasks/family.py`):

    @_task("send_job_match", key=Key("recipient", "user_id", max_running=1,
                                     rate=Rate.per_minute(6)))

Every job of the task then carries the key `recipient:<user_id>` (column
`procrastinate_jobs.hj_key`, set by an insert trigger from what `sync` wrote, so every
defer path gets it). The worker's fetch (hiring_jobs/sql/queue.sql, fetch_jobs), in
PostgreSQL and so across every worker process:

- starts at most `max_running` jobs of one key value at once, and at most `rate` of them
  (a token bucket per key value in `rate_limit_buckets`); a job over its key's limit stays
  `todo`: it takes no slot and spends no attempt;
- takes jobs round-robin across key values, within a queue and a priority: the n-th
  waiting job of every key comes before the (n+1)-th of any (fair share). Priorities still
  come first. Unkeyed jobs are one more "key" and keep their FIFO order.

Limits belong to the key name: tasks that declare the same name share them (and must
declare the same limits). A job is fetched again when a keyed job ends (a notification
from the trigger of migration 0017) and, for rates, when the next token is due
(`next_token_in`, read by the worker after a fetch that left slots free).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs.models import KeyLimit, TaskKey
from hiring_jobs.queue.rate_limit import Rate
from hiring_jobs.sql import QUEUE, run

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Key:
    """`name`: what the key is (employer, recipient...); `field`: the job argument that holds
    its value (an id or a domain, not personal text: keys are shown on admin pages)."""

    name: str
    field: str
    max_running: int | None = None
    rate: Rate | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"key name {self.name!r}: lowercase letters, digits and _")
        if self.max_running is not None and self.max_running < 1:
            raise ValueError(f"key {self.name!r}: max_running must be at least 1")

    @property
    def limited(self) -> bool:
        return self.max_running is not None or self.rate is not None

    def describe(self) -> str:
        limits = [f"max {self.max_running} running"] if self.max_running else []
        limits += [self.rate.describe()] if self.rate else []
        return f"{self.name}={self.field}" + (f" ({', '.join(limits)})" if limits else "")


# Task name -> its key, filled by tasks/family.py as tasks are declared.
DECLARED: dict[str, Key] = {}


def declare(task_name: str, key: Key) -> None:
    for other_task, other in DECLARED.items():
        if other.name == key.name and (other.max_running, other.rate) != (
            key.max_running,
            key.rate,
        ):
            raise ValueError(
                f"key {key.name!r} of {task_name} has other limits than on {other_task}:"
                " limits belong to the key name"
            )
    DECLARED[task_name] = key


def declared_for(task_name: str) -> Key | None:
    return DECLARED.get(task_name)


def has_rates(task_names: Iterable[str] | None = None) -> bool:
    names = DECLARED if task_names is None else task_names
    return any(DECLARED[n].rate for n in names if n in DECLARED)


def sync(session: Session, known_tasks: Iterable[str] | None = None) -> None:
    """Write the declared keys and their limits for the insert trigger and the fetch.

    Upserts only, plus removal of the keys of `known_tasks` (this app's tasks) that no
    longer declare one: processes of another release may run tasks this one does not know.
    """
    for task_name, key in sorted(DECLARED.items()):
        session.execute(
            insert(TaskKey)
            .values(task_name=task_name, key_name=key.name, arg_field=key.field)
            .on_conflict_do_update(
                index_elements=[TaskKey.task_name],
                set_={"key_name": key.name, "arg_field": key.field},
            )
        )
        if not key.limited:  # fair share only: no state to keep per key value
            session.execute(delete(KeyLimit).where(KeyLimit.key_name == key.name))
            continue
        values = {
            "max_running": key.max_running,
            "per_second": key.rate.tokens_per_second if key.rate else None,
            "burst": key.rate.capacity if key.rate else 1.0,
        }
        session.execute(
            insert(KeyLimit)
            .values(key_name=key.name, **values)
            .on_conflict_do_update(index_elements=[KeyLimit.key_name], set_=values)
        )
        if key.rate:
            # Existing buckets of this key name follow a changed rate.
            run(session, QUEUE["rate_limit_follow_key"], {**values, "prefix": f"{key.name}:%"})
    if known_tasks is not None:
        gone = sorted(set(known_tasks) - set(DECLARED))
        if gone:
            session.execute(delete(TaskKey).where(TaskKey.task_name.in_(gone)))


def sync_app() -> None:
    """Import every task module, then `sync` this app's keys (worker start, `migrate`)."""
    from hiring_jobs import db
    from hiring_jobs.app import app

    app.perform_import_paths()
    with db.session_scope() as session:
        sync(session, known_tasks=app.tasks)
