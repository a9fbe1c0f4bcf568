"""The path a new user walks: the README's quick start and next steps, and what
the first commands say along the way (tried as a newcomer would)."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from pathlib import Path

from conftest import ROOT, write_config
from helpers.cli import run_cli
from helpers.opml import OPML, opml_config

from roundup_bot.core.wording import plural
from roundup_bot.storage import open_storage


def closed_port_url() -> str:
    """A loopback address where nothing listens: a feed that cannot be read (offline)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


def test_the_quick_start_says_how_to_call_the_command_and_what_comes_next() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(scripts/\S+)", quick_start, flags=re.MULTILINE)
    assert commands == ["scripts/run-example", "scripts/test"]  # exactly two commands
    assert ".venv/bin/roundup-bot" in quick_start
    assert "source .venv/bin/activate" in quick_start
    next_steps = quick_start.split("### Next steps", 1)[1]
    for step in ("config.example.toml", "[[feeds]]", "poll", "draft", "editor add", "web"):
        assert step in next_steps, step


def test_an_offline_first_poll_is_not_followed_by_run_poll_first(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        f'[polling]\ntimeout = 5\n[[feeds]]\nurl = "{closed_port_url()}"\n',
    )
    before = run_cli(["--config", str(config), "candidates"])
    assert before.stdout.strip() == "no candidates yet: run `roundup-bot poll` first"
    polled = run_cli(["--config", str(config), "poll", "--quiet"])
    assert polled.code == 0, polled
    after = run_cli(["--config", str(config), "candidates"])
    assert after.code == 0, after
    assert after.stdout.strip() == (
        "no candidates yet: no feed could be read (`roundup-bot status` says why)"
    )


def test_init_says_which_feeds_came_from_the_opml_file(tmp_path: Path) -> None:
    config = opml_config(tmp_path, OPML)
    result = run_cli(["--config", str(config), "init"])
    assert result.code == 0, result
    opml = tmp_path / "lists" / "feeds.opml"
    assert result.stdout.strip().endswith(
        f"1 feed from {config} and 2 more from the OPML file {opml}"
    )


def test_editor_list_shows_local_readable_times(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        '[roundup]\ntimezone = "Europe/London"\n',
    )
    store = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        store.editors.add("ann", "not a real hash", datetime(2026, 7, 1, 11, 30, tzinfo=UTC))
    finally:
        store.close()
    listed = run_cli(["--config", str(config), "editor", "list"])
    assert listed.code == 0, listed
    assert "last sign-in (Europe/London time)" in listed.stdout
    assert "never" in listed.stdout
    assert "Wed 01 Jul 2026 12:30" in listed.stdout  # British Summer Time, not UTC
    assert "+00:00" not in listed.stdout


def test_plurals_read_right() -> None:
    assert plural(1, "article page") == "1 article page"
    assert plural(2, "article page") == "2 article pages"
    assert plural(0, "feed") == "0 feeds"
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"


def test_a_poll_of_one_feed_reads_right() -> None:
    from roundup_bot.core.records import PollOutcome
    from roundup_bot.services.jobs import poll_summary

    one = PollOutcome(
        feed_id=1, feed_url="https://blog.example.gov.uk/feed", ok=True, new_entries=1
    )
    assert (
        poll_summary([one]).summary == "polled 1 feed: 1 ok, 0 failed; 1 new candidate, 0 updated"
    )
