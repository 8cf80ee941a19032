"""Groups: fan out N jobs, run a completion job exactly once when the last one finishes.

`start_group` inserts a `job_groups` row and defers every member in the caller's
transaction, passing `group_id` to each. Each member calls `member_finished` inside its own
transaction. The UPDATE takes the group's row lock, so members finishing at the same moment
are serialised by PostgreSQL: exactly one of them sees `finished == total`, and it defers the
completion job in that same transaction. If its transaction rolls back, so does its count.

A chain needs no helper: a step defers the next step with `defer()` in its own transaction.

Each member reports under a key of its own (its job's subject, e.g. "resume:42"): a member
re-run after its report committed (a worker died between that commit and marking the job
done) finds its key in `job_group_members` and counts nothing twice.

A group named by `progress_group_name(prefix, job_id)` is that job's work: each member's
report also sets the job's progress (job_progress: finished of total), in the member's
transaction, under the group's row lock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from procrastinate.tasks import Task
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs.models import JobGroup, JobGroupMember
from hiring_jobs.queue.defer import DeferOptions, batch_defer, defer
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.sql import QUEUE, run

OnComplete = tuple[str, dict[str, Any]]
_OWNER_MARK = ":job:"


def progress_group_name(prefix: str, job_id: int) -> str:
    """The name of a group whose members' progress is job `job_id`'s progress."""
    return f"{prefix}{_OWNER_MARK}{job_id}"


def _owner_job(name: str) -> int | None:
    _, mark, job_id = name.rpartition(_OWNER_MARK)
    return int(job_id) if mark and job_id.isdigit() else None


def start_group(
    session: Session,
    name: str,
    task: Task[..., Any, Any] | str,
    kwargs_list: list[dict[str, Any]],
    on_complete: OnComplete,
    *,
    options: DeferOptions | None = None,
) -> int:
    """Insert the group and defer its members (each gets `group_id`); return the group id.

    `on_complete` is (task name, kwargs); the completion job also receives `group_id`.
    An empty group is complete at once: its completion job is deferred here.
    """
    task_name, complete_kwargs = on_complete
    group = JobGroup(
        name=name,
        total=len(kwargs_list),
        on_complete_task=task_name,
        on_complete_kwargs=complete_kwargs,
    )
    session.add(group)
    session.flush()
    if not kwargs_list:
        _complete(session, group.id, task_name, complete_kwargs)
        return group.id
    members = [{**kwargs, "group_id": group.id} for kwargs in kwargs_list]
    batch_defer(session, task, members, options=options)
    return group.id


def member_finished(
    session: Session, group_id: int, member: str, *, failed: bool = False
) -> int | None:
    """Count one finished member; the member that completes the group defers the completion.

    Returns the completion job id when this call completed the group, else None.
    """
    if session.get(JobGroup, group_id) is None:
        raise PermanentError(f"job group {group_id} does not exist")
    first_report = session.execute(
        insert(JobGroupMember)
        .values(group_id=group_id, member=member, failed=failed)
        .on_conflict_do_nothing()
        .returning(JobGroupMember.member)
    ).one_or_none()
    if first_report is None:
        return None  # this member already reported
    row = session.execute(
        update(JobGroup)
        .where(JobGroup.id == group_id, JobGroup.finished < JobGroup.total)
        .values(finished=JobGroup.finished + 1, failed=JobGroup.failed + int(failed))
        .returning(
            JobGroup.finished,
            JobGroup.total,
            JobGroup.on_complete_task,
            JobGroup.on_complete_kwargs,
            JobGroup.failed,
            JobGroup.name,
        )
    ).one_or_none()
    if row is None:
        return None  # already complete: a late report changes nothing
    finished, total, task_name, complete_kwargs, failed_count, name = row
    owner = _owner_job(name)
    if owner is not None:
        run(
            session,
            QUEUE["upsert_job_progress"],
            {
                "job_id": owner,
                "done": finished,
                "total": total,
                "message": f"{finished} of {total} done, {failed_count} failed",
            },
        )
    if finished < total:
        return None
    return _complete(session, group_id, task_name, complete_kwargs)


def _complete(session: Session, group_id: int, task_name: str, kwargs: dict[str, Any]) -> int:
    job_id = defer(session, task_name, **{**kwargs, "group_id": group_id})
    session.execute(
        update(JobGroup)
        .where(JobGroup.id == group_id)
        .values(completion_job_id=job_id, completed_at=datetime.now(UTC))
    )
    return job_id
