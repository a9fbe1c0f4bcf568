"""Cron one-shots (`poll`, `mentions`, `draft`) take the same locks as the daemon's jobs."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, write_config

from roundup_bot.storage import open_storage


def run(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDUP_")}
    return subprocess.run(
        [sys.executable, "-m", "roundup_bot", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env={**environ, "PYTHONPATH": str(ROOT), **env},
        timeout=60,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path,
        f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        '[schedule]\nlock_wait = "0"\n'
        "[twitter]\nenabled = true\n"
        "[roundup]\nfetch_link_details = false\n",
    )


@pytest.mark.parametrize("job", ["poll", "mentions", "draft"])
def test_a_one_shot_skips_with_status_3_while_its_job_runs_elsewhere(
    config: Path, job: str
) -> None:
    assert run(config, "init").returncode == 0
    store = open_storage(f"sqlite:///{config.parent / 'r.db'}")
    try:
        with store.locks.hold(job, owner="daemon-host:4242:cafe"):
            done = run(config, job)
    finally:
        store.close()
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"skipped: the {job} job is already running elsewhere (held by daemon-host:4242:cafe)"
    )


def test_a_one_shot_waits_for_the_lock_when_told_to(config: Path) -> None:
    """The lock is let go only once the one-shot says it is waiting for it, so the
    one-shot really waited, however slowly either side runs."""
    assert run(config, "init").returncode == 0
    store = open_storage(f"sqlite:///{config.parent / 'r.db'}")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDUP_")}
    environ.update(PYTHONPATH=str(ROOT), ROUNDUP_SCHEDULE_LOCK_WAIT='"60s"')
    command = [sys.executable, "-m", "roundup_bot", "--config", str(config), "draft"]
    held = contextlib.ExitStack()  # the lock is taken before the one-shot starts
    held.enter_context(store.locks.hold("draft", owner="daemon-host:4242:cafe"))
    one_shot = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=environ
    )
    with one_shot:
        assert one_shot.stderr is not None
        with held:
            said = []
            for line in one_shot.stderr:
                said.append(line)
                if "waiting up to 60 s for the draft lock, held by daemon-host:4242:cafe" in line:
                    break
            else:
                pytest.fail(f"the one-shot never waited: {''.join(said)}")
        rest = one_shot.stderr.read()
        assert one_shot.wait(60) == 0, rest
    assert "created the" in rest
    runs = store.job_runs.all()
    store.close()
    assert runs["draft"].last_ok is True


def test_one_shot_runs_show_in_status(config: Path) -> None:
    assert run(config, "poll").returncode == 0
    status = run(config, "status")
    assert status.returncode == 0, status.stderr
    job_lines = status.stdout.split("job ", 1)[1].splitlines()
    poll_line = next(line for line in job_lines if line.startswith("poll"))
    assert " ok " in poll_line
    assert "polled 0 feeds" in poll_line
    assert "not scheduled" in poll_line
    as_json = json.loads(run(config, "status", "--json").stdout)
    jobs = {job["name"]: job for job in as_json["jobs"]}
    assert set(jobs) >= {"poll", "mentions", "draft"}
    assert jobs["poll"]["last_ok"] is True
    assert jobs["mentions"]["last_started"] is None


def test_run_dry_run_prints_the_schedule_without_running_anything(config: Path) -> None:
    done = run(config, "run", "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["poll", "mentions", "draft"]
    assert lines[2].endswith("make the draft every friday 09:00 (Europe/London)")
    store = open_storage(f"sqlite:///{config.parent / 'r.db'}")
    try:
        assert all(job.last_started is None for job in store.job_runs.all().values())
    finally:
        store.close()
