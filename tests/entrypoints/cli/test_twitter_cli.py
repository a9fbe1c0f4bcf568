"""`roundup-bot mentions` as a user runs it: output, exit statuses, secrets, a kill mid-run.

Each test runs the real command in a subprocess against the local fake X API.
"""

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
from helpers.fake_x_api import ACCOUNT_FOUND, LOOKUP, FakeXApi, Reply, running_fake
from sqlalchemy import func, select

from roundup_bot.config import load_settings
from roundup_bot.core.errors import TemplateError
from roundup_bot.services.thanks import thanks_renderer
from roundup_bot.storage import open_storage
from roundup_bot.storage.schema import candidate_sources, candidates, suggestions

BEARER = "BEARER-secret-7f3a9c1e5d"
OAUTH = {
    "ROUNDUP_TWITTER_CONSUMER_KEY": "CONSUMERKEY-secret-11aa",
    "ROUNDUP_TWITTER_CONSUMER_SECRET": "CONSUMERSECRET-secret-22bb",
    "ROUNDUP_TWITTER_ACCESS_TOKEN": "ACCESSTOKEN-secret-33cc",
    "ROUNDUP_TWITTER_ACCESS_TOKEN_SECRET": "ACCESSSECRET-secret-44dd",
}
MENTIONS = "/2/users/9/mentions"
USERS = [{"id": "1", "username": "alice"}, {"id": "2", "username": "bob"}]


def mention(post_id: int, author: str, link: str) -> dict[str, Any]:
    created = datetime.now(UTC) - timedelta(hours=1)
    return {
        "id": str(post_id),
        "author_id": author,
        "text": f"@welovelocalgov {link}",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "entities": {"urls": [{"url": "https://t.co/a", "expanded_url": link}]},
    }


def page(*tweets: dict[str, Any], next_token: str | None = None) -> Reply:
    meta: dict[str, Any] = {"result_count": len(tweets), "newest_id": tweets[0]["id"]}
    if next_token:
        meta["next_token"] = next_token
    return Reply.json({"data": list(tweets), "includes": {"users": USERS}, "meta": meta})


FIRST = page(
    mention(501, "1", "https://blog.example.gov.uk/one?utm_medium=social"),
    mention(500, "2", "https://blog.example.gov.uk/two"),
    next_token="next-1",
)
SECOND = page(mention(499, "1", "https://blog.example.gov.uk/three"))


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    with running_fake(account=True) as server:
        yield server


def make_config(tmp_path: Path, fake: FakeXApi, extra: str = "", timeout: float = 1.0) -> Path:
    return write_config(
        tmp_path,
        f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        '[schedule]\nlock_wait = "0"\n'
        "[twitter]\nenabled = true\n"
        f'api_base_url = "{fake.base_url}"\n'
        f"timeout = {timeout}\nretries = 1\nretry_backoff = 0.01\nmax_rate_limit_wait = 0.5\n"
        f"{extra}",
    )


def environment(**env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDUP_")}
    return {**base, "PYTHONPATH": str(ROOT), **env}


def cli(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roundup_bot", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=environment(**env),
        timeout=60,
    )


def count(db: Path, table: Any) -> int:
    store = open_storage(f"sqlite:///{db}")
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        store.close()


def test_mentions_then_candidates_and_status_show_who_suggested_what(
    tmp_path: Path, fake: FakeXApi
) -> None:
    fake.add("GET", MENTIONS, FIRST, SECOND)
    config = make_config(tmp_path, fake)
    done = cli(config, "mentions", ROUNDUP_TWITTER_BEARER_TOKEN=BEARER)
    assert done.returncode == 0, done.stderr
    assert "3 suggestions accepted" in done.stdout
    assert "3 of 1000 posts read this month" in done.stdout

    listed = cli(config, "candidates", "--json")
    assert listed.returncode == 0, listed.stderr
    by_url = {c["url"]: c for c in json.loads(listed.stdout)}
    one = by_url["https://blog.example.gov.uk/one"]
    assert one["link"] == "https://blog.example.gov.uk/one?utm_medium=social"
    assert one["suggested_by"] == ["@alice"]
    assert one["sources"] == [
        {"kind": "x", "name": "@alice", "url": "https://x.com/alice/status/501"}
    ]

    status = cli(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    x = json.loads(status.stdout)["x"]
    assert x["ok"] is True
    assert x["last_error"] is None
    assert x["since_id"] == "501"
    assert x["posts_read_this_month"] == 3
    assert x["max_posts_per_month"] == 1000
    text = cli(config, "status")
    assert "X @welovelocalgov: ok" in text.stdout
    assert "since_id 501" in text.stdout


def test_exit_status_4_when_rate_limited_and_the_next_run_carries_on(
    tmp_path: Path, fake: FakeXApi
) -> None:
    reset = int(time.time()) + 900
    fake.add("GET", MENTIONS, FIRST, Reply.json({}, 429, {"x-rate-limit-reset": str(reset)}))
    config = make_config(tmp_path, fake)
    stopped = cli(config, "mentions", ROUNDUP_TWITTER_BEARER_TOKEN=BEARER)
    assert stopped.returncode == 4, stopped.stderr
    when = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert f"stopped: X API mentions: rate limited (HTTP 429); it may resume after {when}" in (
        stopped.stderr
    )
    status = json.loads(cli(config, "status", "--json").stdout)["x"]
    assert status["ok"] is False
    assert status["last_outcome"] == "rate_limited"
    assert status["unfinished_sweep"] is True
    assert status["resume_after"] is not None

    assert "X @welovelocalgov: STOPPED (rate limited)" in cli(config, "status").stdout

    fake.add("GET", MENTIONS, SECOND)
    finished = cli(config, "mentions", ROUNDUP_TWITTER_BEARER_TOKEN=BEARER)
    assert finished.returncode == 0, finished.stderr
    assert fake.calls(MENTIONS)[-1].query["pagination_token"] == "next-1"
    assert count(tmp_path / "r.db", suggestions) == 3


@pytest.mark.parametrize(
    ("reply", "status", "line"),
    [
        (
            Reply.json({"title": "Unauthorized", "status": 401}, 401),
            1,
            "error: X API user lookup: credentials rejected (HTTP 401): check"
            " ROUNDUP_TWITTER_BEARER_TOKEN: X says 'Unauthorized'",
        ),
        (
            Reply.json(
                {
                    "title": "UsageCapExceeded",
                    "detail": "Usage cap exceeded: Monthly product cap",
                    "type": "https://api.twitter.com/2/problems/usage-capped",
                },
                429,
            ),
            4,
            "stopped: X API user lookup: the plan's usage cap is reached",
        ),
    ],
)
def test_refusals_end_in_one_line_and_a_documented_status(
    tmp_path: Path, fake: FakeXApi, reply: Reply, status: int, line: str
) -> None:
    fake.routes.clear()
    fake.add("GET", LOOKUP, reply)
    done = cli(make_config(tmp_path, fake), "mentions", ROUNDUP_TWITTER_BEARER_TOKEN=BEARER)
    assert done.returncode == status
    [message] = done.stderr.strip().splitlines()
    assert message.startswith(line)


def test_config_problems_exit_2_naming_the_culprit(tmp_path: Path, fake: FakeXApi) -> None:
    config = make_config(tmp_path, fake)
    missing = cli(config, "mentions")
    assert missing.returncode == 2
    assert "ROUNDUP_TWITTER_BEARER_TOKEN: not set" in missing.stderr

    thanks = make_config(tmp_path, fake, "thank_suggesters = true\n")
    no_keys = cli(thanks, "mentions", ROUNDUP_TWITTER_BEARER_TOKEN=BEARER)
    assert no_keys.returncode == 2
    assert "ROUNDUP_TWITTER_ACCESS_TOKEN_SECRET" in no_keys.stderr

    off = cli(config, "mentions", ROUNDUP_TWITTER_ENABLED="false")
    assert off.returncode == 2
    assert "twitter.enabled" in off.stderr

    bad = cli(config, "mentions", ROUNDUP_TWITTER_USERNAME="not a name!")
    assert bad.returncode == 2
    assert "twitter.username" in bad.stderr
    assert fake.calls(".*") == []


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_never_reach_output_or_logs(
    tmp_path: Path, fake: FakeXApi, log_format: str
) -> None:
    fake.add("GET", MENTIONS, FIRST, SECOND)
    fake.add("POST", "/2/tweets", Reply.json({"data": {"id": "7", "text": "t"}}, 201), repeat=True)
    config = make_config(tmp_path, fake, "thank_suggesters = true\n")
    secrets = {"ROUNDUP_TWITTER_BEARER_TOKEN": BEARER, **OAUTH}
    args = ("--log-level", "DEBUG", "--log-format", log_format, "mentions")
    ok = cli(config, *args, **secrets)
    assert ok.returncode == 0, ok.stderr
    assert "Making API request" in ok.stderr  # tweepy's request log (headers) was on
    assert "thanked 3" in ok.stdout
    assert len(fake.calls("/2/tweets")) == 3
    fake.routes.clear()
    fake.add("GET", MENTIONS, Reply.json({"title": "Unauthorized"}, 401))
    refused = cli(config, *args, **secrets)
    assert refused.returncode == 1
    everything = ok.stdout + ok.stderr + refused.stdout + refused.stderr
    for secret in secrets.values():
        assert secret not in everything
    # ...while the server did receive them, so they were really in use
    assert fake.calls(MENTIONS)[0].headers["authorization"] == f"Bearer {BEARER}"
    assert (
        OAUTH["ROUNDUP_TWITTER_CONSUMER_KEY"] in fake.calls("/2/tweets")[0].headers["authorization"]
    )


def test_a_run_killed_half_way_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, fake: FakeXApi
) -> None:
    fake.add("GET", MENTIONS, FIRST, Reply.hanging(30))
    config = make_config(tmp_path, fake, timeout=20.0)
    process = subprocess.Popen(
        [sys.executable, "-m", "roundup_bot", "--config", str(config), "mentions"],
        env=environment(ROUNDUP_TWITTER_BEARER_TOKEN=BEARER),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while len(fake.calls(MENTIONS)) < 2 and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it was killed"
            time.sleep(0.05)
        assert len(fake.calls(MENTIONS)) == 2, "the second page was never asked for"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(10)
    db = tmp_path / "r.db"
    assert count(db, suggestions) == 2  # the first page was committed

    fake.routes.clear()
    fake.add("GET", LOOKUP, ACCOUNT_FOUND)
    fake.add("GET", MENTIONS, SECOND)
    done = cli(config, "mentions", ROUNDUP_TWITTER_BEARER_TOKEN=BEARER)
    assert done.returncode == 0, done.stderr
    assert fake.calls(MENTIONS)[-1].query["pagination_token"] == "next-1"
    assert (count(db, suggestions), count(db, candidates), count(db, candidate_sources)) == (
        3,
        3,
        3,
    )

    # Reading everything again (as after a crash before a commit) stores nothing twice.
    store = open_storage(f"sqlite:///{db}")
    store.state.set("x", "since_id", None)
    store.close()
    fake.add("GET", MENTIONS, FIRST, SECOND)
    again = cli(config, "mentions", ROUNDUP_TWITTER_BEARER_TOKEN=BEARER)
    assert again.returncode == 0, again.stderr
    assert "3 already stored" in again.stdout
    assert (count(db, suggestions), count(db, candidates), count(db, candidate_sources)) == (
        3,
        3,
        3,
    )


# -- the thank-you template ---------------------------------------------------------------


def test_the_packaged_thanks_template_renders_a_short_reply_without_links(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, "[twitter]\nthank_suggesters = true\n"))
    render = thanks_renderer(settings)
    text = render("alice", ("https://a.example/1",), ("A title",), "https://x.com/alice/status/1")
    assert 0 < len(text) <= 280
    assert "http" not in text


def test_an_operators_template_overrides_and_is_checked(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thanks.txt.j2").write_text("Cheers @{{ username }} for {{ titles | join(', ') }}")
    (folder / "long.txt.j2").write_text("{{ 'x' * 300 }}")
    (folder / "broken.txt.j2").write_text("{% if %}")
    config = write_config(tmp_path, f'[roundup]\ntemplates_dir = "{folder}"\n')
    render = thanks_renderer(load_settings(config))
    assert render("bob", ("https://a/1",), ("One", None), "u") == "Cheers @bob for One"
    for name, problem in [
        ("long", "over 280"),
        ("broken", "broken.txt.j2:1"),
        ("gone", "not found"),
    ]:
        settings = load_settings(config, {"ROUNDUP_TWITTER_THANK_TEMPLATE": f"{name}.txt.j2"})
        with pytest.raises(TemplateError, match=problem):
            thanks_renderer(settings)("bob", (), (), "u")
