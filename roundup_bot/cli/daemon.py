"""``roundup-bot run``: the scheduler daemon; and the jobs block of ``status``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from roundup_bot.cli._context import CliContext, pass_cli
from roundup_bot.cli._output import iso, table
from roundup_bot.jobs import JOB_NAMES, utc_now
from roundup_bot.storage import Storage
from roundup_bot.storage.job_runs import JobRun


@click.command()
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the jobs and when each would next run, then exit.",
)
@pass_cli
def run(cli: CliContext, dry_run: bool) -> None:
    """Run the scheduler: poll feeds, read suggestions and make the draft on the
    [schedule] set in the config, until SIGTERM or Ctrl-C (exit status 0).

    Each job takes the same database lock as its one-shot command, so cron
    lines and the daemon never run the same job at once.
    """
    from roundup_bot.scheduler import Daemon, describe_schedule

    settings = cli.settings
    if dry_run:
        zone = ZoneInfo(settings.roundup.timezone)
        rows = describe_schedule(settings, utc_now())
        if not rows:
            click.echo("every job is switched off in [schedule]")
        for job, description, when in rows:
            shown = when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if when else "never"
            click.echo(f"{job:<9} next {shown:<22} {description}")
        return
    daemon = Daemon(cli.app)
    code = daemon.run()
    if code:
        raise SystemExit(code)


def jobs_status(storage: Storage) -> list[JobRun]:
    """Every known job's latest run, including jobs that never ran."""
    runs = storage.job_runs.all()
    names = list(JOB_NAMES) + sorted(set(runs) - set(JOB_NAMES))
    return [runs.get(name) or JobRun(name, None, None, None, None, None) for name in names]


def jobs_status_json(storage: Storage) -> list[dict[str, Any]]:
    running = storage.locks.holders()
    return [
        {
            "name": run.name,
            "running": run.name in running,
            "running_on": running[run.name].owner if run.name in running else None,
            "last_started": iso(run.last_started),
            "last_finished": iso(run.last_finished),
            "last_ok": run.last_ok,
            "last_result": run.last_result,
            "next_run": iso(run.next_run),
        }
        for run in jobs_status(storage)
    ]


def echo_jobs_status(storage: Storage, zone: ZoneInfo) -> None:
    """The jobs table of ``roundup-bot status``."""
    running = storage.locks.holders()

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-"

    rows = []
    for job in jobs_status(storage):
        if job.name in running:
            state = "running"
        elif job.last_started is None:
            state = "-"
        elif job.last_finished is None or job.last_finished < job.last_started:
            state = "interrupted"
        elif job.last_ok is None:
            state = "skipped"
        else:
            state = "ok" if job.last_ok else "FAILED"
        rows.append(
            [
                job.name,
                state,
                when(job.last_started),
                when(job.next_run) if job.next_run else "not scheduled",
                job.last_result or "",
            ]
        )
    table(["job", "state", "last run", "next run", "result"], rows, flexible=4)


COMMANDS = [run]
