"""What the one-shot job commands (``poll``, ``mentions``, ``draft``) share with the daemon.

``@job_lock("poll")`` makes a command take the job's database lock first:
it waits up to ``[schedule] lock_wait`` for a run elsewhere (the daemon,
another cron line, another machine) to finish, then gives up with
``skipped: ...`` on standard error and exit status 3. The run is recorded in
``job_runs`` so ``status`` shows it; a command that returns a string has it
recorded as the run's result.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

import click

from roundup_bot.entrypoints.cli._context import CliContext
from roundup_bot.services.jobs import JOB_POLL, JobResult, StopSignal, guarded_run, poll_worker_job
from roundup_bot.storage.locks import make_owner

F = TypeVar("F", bound=Callable[..., Any])


def job_lock(job: str, *, bypass: str | None = None) -> Callable[[F], F]:
    """Run the decorated command (which takes the CliContext first) under ``job``'s lock.

    ``bypass`` names a boolean option that, when given, means the command takes
    care of locking itself (``poll --worker`` takes the lock shared).
    """

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(cli: CliContext, *args: Any, **kwargs: Any) -> Any:
            if bypass is not None and kwargs.get(bypass):
                return command(cli, *args, **kwargs)
            wait = cli.settings.schedule.lock_wait_seconds
            with guarded_run(cli.app.storage, job, wait=wait) as record:
                value = command(cli, *args, **kwargs)
                if isinstance(value, str):
                    record.result = JobResult(True, value)
            return value

        return wrapper  # type: ignore[return-value]

    return decorate


def poll_as_worker(cli: CliContext, quiet: bool) -> str:
    """``poll --worker``: share the due feeds with other workers through row leases.

    PostgreSQL only. Workers hold the poll lock *shared*: any number of them run
    together, while a plain ``poll`` or the daemon's poll (exclusive) waits for
    them, and they for it. SIGTERM/SIGINT stop the worker after giving back the
    feeds it had not finished, so another worker can take them at once.
    """
    app = cli.app
    if not app.storage.leases.supported:
        raise click.UsageError(
            "poll --worker needs PostgreSQL ([database] url is SQLite, which allows one "
            "writer at a time); run a single `roundup-bot poll` instead"
        )
    stop = StopSignal()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    owner = make_owner()
    try:
        if not quiet:
            click.echo(f"worker {owner}: polling due feeds", err=True)
        wait = cli.settings.schedule.lock_wait_seconds
        with guarded_run(app.storage, JOB_POLL, wait=wait, shared=True) as record:
            record.result = poll_worker_job(app, stop, owner)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(record.result.summary)
    return record.result.summary
