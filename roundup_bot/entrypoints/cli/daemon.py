"""``roundup-bot run``: the scheduler daemon; and the jobs block of ``status``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from roundup_bot.core.clock import utc_now
from roundup_bot.entrypoints.cli._context import CliContext, pass_cli
from roundup_bot.entrypoints.cli._output import iso, table
from roundup_bot.services.health import JobHealth


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
    from roundup_bot.entrypoints.scheduler import Daemon, describe_schedule

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


def jobs_json(jobs: list[JobHealth]) -> list[dict[str, Any]]:
    return [
        {
            "name": job.name,
            "running": job.state == "running",
            "running_on": job.running_on,
            "last_started": iso(job.last_started),
            "last_finished": iso(job.last_finished),
            "last_ok": job.last_ok,
            "last_result": job.last_result,
            "next_run": iso(job.next_run),
        }
        for job in jobs
    ]


_JOB_WORDS = {"never": "-", "failed": "FAILED"}


def echo_jobs(jobs: list[JobHealth], zone: ZoneInfo) -> None:
    """The jobs table of ``roundup-bot status``."""

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-"

    rows = [
        [
            job.name,
            _JOB_WORDS.get(job.state, job.state),
            when(job.last_started),
            when(job.next_run) if job.next_run else "not scheduled",
            job.last_result or "",
        ]
        for job in jobs
    ]
    table(["job", "state", "last run", "next run", "result"], rows, flexible=4)


COMMANDS = [run]
