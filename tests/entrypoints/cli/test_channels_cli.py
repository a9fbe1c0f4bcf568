"""`roundup-bot mentions` across channels, as an operator runs it: X and Mastodon
against local fakes, one failing while the other is read, a killed run, status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, write_config
from helpers.fake_x_api import ACCOUNT_FOUND, LOOKUP, FakeXApi, Reply
from sqlalchemy import func, select

from roundup_bot.storage import open_storage
from roundup_bot.storage.schema import suggestions

BEARER = "BEARER-secret-7f3a9c1e5d"
MASTODON_TOKEN = "MASTODON-secret-9d8c7b6a"
NOTES = "/api/v1/notifications"
ME = "/api/v1/accounts/verify_credentials"
POLICY = "/api/v2/notifications/policy"
BOT = {"id": "900", "username": "welovelocalgov", "acct": "welovelocalgov",
       "url": "https://council.social/@welovelocalgov"}  # fmt: skip


@pytest.fixture
def x_fake() -> Iterator[FakeXApi]:
    server = FakeXApi()
    server.add("GET", LOOKUP, ACCOUNT_FOUND, repeat=True)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def mastodon() -> Iterator[FakeXApi]:
    server = FakeXApi()
    server.add("GET", ME, Reply.json(BOT), repeat=True)
    server.add("GET", POLICY, Reply.json({"for_not_following": "filter"}), repeat=True)
    try:
        yield server
    finally:
        server.close()


def note(number: int, handle: str, link: str) -> dict[str, Any]:
    created = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    user = handle.split("@")[0]
    post = {
        "id": str(1000 + number),
        "created_at": created,
        "url": f"https://town.social/@{user}/{number}",
        "visibility": "public",
        "content": f'<p>look <a href="{link}">{link}</a></p>',
        "account": {"id": str(number), "username": user, "acct": handle},
        "mentions": [],
        "tags": [],
        "card": None,
    }
    return {"id": str(number), "type": "mention", "created_at": created, "status": post}


def config_for(tmp_path: Path, x_fake: FakeXApi, mastodon: FakeXApi) -> Path:
    return write_config(
        tmp_path,
        f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        '[schedule]\nlock_wait = "0"\n'
        f'[twitter]\nenabled = true\napi_base_url = "{x_fake.base_url}"\n'
        "timeout = 2\nretries = 0\n"
        f'[mastodon]\nenabled = true\napi_base_url = "{mastodon.base_url}"\n'
        "timeout = 20\nretries = 0\n",
    )


def environment() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDUP_")}
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "ROUNDUP_TWITTER_BEARER_TOKEN": BEARER,
        "ROUNDUP_MASTODON_ACCESS_TOKEN": MASTODON_TOKEN,
    }


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roundup_bot", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
    )


def stored(db: Path) -> int:
    store = open_storage(f"sqlite:///{db}")
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(suggestions)).scalar_one())
    finally:
        store.close()


def test_x_failing_does_not_stop_mastodon_and_status_shows_both(
    tmp_path: Path, x_fake: FakeXApi, mastodon: FakeXApi
) -> None:
    x_fake.add("GET", "/2/users/9/mentions", Reply.json({"title": "down"}, 503), repeat=True)
    mastodon.add(
        "GET", NOTES, Reply.json([note(7, "ann@town.social", "https://blog.example.gov.uk/a")])
    )
    config = config_for(tmp_path, x_fake, mastodon)
    done = cli(config, "--log-level", "DEBUG", "mentions")
    assert done.returncode == 1, done.stderr
    assert "Mastodon: read 1 mentions" in done.stdout
    assert "error: X: X API mentions" in done.stderr
    for secret in (BEARER, MASTODON_TOKEN):
        assert secret not in done.stdout + done.stderr

    listed = json.loads(cli(config, "candidates", "--json").stdout)
    assert listed[0]["suggested_by"] == ["@ann@town.social"]
    assert listed[0]["sources"][0]["kind"] == "mastodon"

    status = json.loads(cli(config, "status", "--json").stdout)
    by_name = {c["channel"]: c for c in status["channels"]}
    assert by_name["x"]["ok"] is False
    assert by_name["mastodon"]["ok"] is True
    assert by_name["mastodon"]["since_id"] == "7"
    assert by_name["mastodon"]["account"] == "@welovelocalgov@council.social"
    text = cli(config, "status").stdout
    assert "X @welovelocalgov: FAILING" in text
    assert "Mastodon @welovelocalgov@council.social: ok" in text

    mastodon.add("GET", NOTES, Reply.json([]))
    one = cli(config, "mentions", "--channel", "mastodon", "--json")
    assert one.returncode == 0, one.stderr
    report = json.loads(one.stdout)
    assert [c["channel"] for c in report["channels"]] == ["mastodon"]
    assert mastodon.calls(NOTES)[-1].query["since_id"] == "7"


def test_a_killed_mastodon_run_loses_nothing_and_reads_nothing_twice(
    tmp_path: Path, x_fake: FakeXApi, mastodon: FakeXApi
) -> None:
    x_fake.add("GET", "/2/users/9/mentions", Reply.json({"meta": {"result_count": 0}}), repeat=True)
    full = [note(60 - n, f"user{n}@town.social", f"https://a.example/{n}") for n in range(40)]
    mastodon.add("GET", NOTES, Reply.json(full), Reply.hanging(30))
    config = config_for(tmp_path, x_fake, mastodon)
    process = subprocess.Popen(
        [sys.executable, "-m", "roundup_bot", "--config", str(config), "mentions"],
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while len(mastodon.calls(NOTES)) < 2 and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it was killed"
            time.sleep(0.05)
        assert len(mastodon.calls(NOTES)) == 2, "the second page was never asked for"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(10)
    db = tmp_path / "r.db"
    assert stored(db) == 40  # the first page was committed with its place

    mastodon.routes.clear()
    mastodon.add("GET", ME, Reply.json(BOT), repeat=True)
    mastodon.add("GET", POLICY, Reply.json({}), repeat=True)
    mastodon.add("GET", NOTES, Reply.json([note(5, "zed@town.social", "https://z.example/")]))
    done = cli(config, "mentions", "--channel", "mastodon")
    assert done.returncode == 0, done.stderr
    resumed = mastodon.calls(NOTES)[-1].query
    assert resumed["max_id"] == "21"  # carries on below the stored page
    assert stored(db) == 41
    store = open_storage(f"sqlite:///{db}")
    try:
        assert store.state.get("mastodon", "since_id") == "60"  # the sweep's newest
    finally:
        store.close()
