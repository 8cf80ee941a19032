"""`hiring-jobs queues [pause|resume|limit]`: see and steer queues on a running fleet.

The same service (queue/control.py) as the admin pages and the API, audited the same way;
workers obey within a second.
"""

from __future__ import annotations

import click

from hiring_jobs.cli_support import Column, by_option, in_session, json_option, table, to_json
from hiring_jobs.queue import control
from hiring_jobs.queue.control import QueueState

COLUMNS = [
    Column("QUEUE", lambda q: q.name),
    Column("STATE", lambda q: "paused" if q.paused else "active"),
    Column("LIMIT", lambda q: "as started" if q.limit is None else q.limit, right=True),
    Column("WAITING", lambda q: _capped(q.waiting), right=True),
    Column("RUNNING", lambda q: _capped(q.running), right=True),
    Column("SERVING", lambda q: f"{len(q.serving)}/{len(q.workers)}", right=True),
    Column("WORKERS (slots now)", lambda q: _workers(q), width=80),
]
worker_option = click.option(
    "--worker", default=None, help="Only this worker process (its name); default: every worker."
)


def _capped(n: int) -> str:
    return f"{control.COUNT_CAP:,}+" if n > control.COUNT_CAP else str(n)


def _workers(queue: QueueState) -> str:
    return ", ".join(
        f"{w.worker_name}={'paused' if w.paused else w.slots}"
        + ("(*)" if w.bucket != queue.name else "")
        for w in queue.workers
    )


@click.group("queues", invoke_without_command=True)
@json_option
@click.pass_context
def queues(ctx: click.Context, as_json: bool) -> None:
    """Queues with their limits, paused state, waiting/running jobs and live workers.

    A worker's slots marked (*) are the ones it shares between every queue it does not
    name. SERVING counts live workers that would start this queue's jobs now.
    """
    if ctx.invoked_subcommand is not None:
        return
    states = in_session(control.queue_states)
    if as_json:
        click.echo(to_json({"queues": [state.as_dict() for state in states]}))
        return
    click.echo(table(COLUMNS, states))


@queues.command()
@click.argument("queue")
@worker_option
@by_option
def pause(queue: str, worker: str | None, by: str) -> None:
    """Start nothing new from QUEUE (running jobs finish)."""
    in_session(lambda s: control.pause(s, queue, by=by, worker=worker), control.ControlError)
    click.echo(f"queue {queue} is paused" + (f" on {worker}" if worker else ""))


@queues.command()
@click.argument("queue")
@worker_option
@by_option
def resume(queue: str, worker: str | None, by: str) -> None:
    """Start QUEUE's jobs again."""
    in_session(lambda s: control.resume(s, queue, by=by, worker=worker), control.ControlError)
    click.echo(f"queue {queue} is resumed" + (f" on {worker}" if worker else ""))


@queues.command()
@click.argument("queue")
@click.argument("slots")
@worker_option
@by_option
def limit(queue: str, slots: str, worker: str | None, by: str) -> None:
    """Run at most SLOTS of QUEUE's jobs at once per worker process ('default': as started).

    QUEUE '*' is the slots a worker shares between the queues it does not name.
    """
    number = None if slots == "default" else _slots(slots)
    in_session(
        lambda s: control.set_limit(s, queue, number, by=by, worker=worker), control.ControlError
    )
    click.echo(
        f"queue {queue}: "
        + ("slots as each worker was started" if number is None else f"{number} slots per worker")
        + (f" on {worker}" if worker else "")
    )


def _slots(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or int(raw) > control.MAX_SLOTS:
        raise click.BadParameter(
            f"a whole number from 0 to {control.MAX_SLOTS}, or 'default'", param_hint="SLOTS"
        )
    return int(raw)
