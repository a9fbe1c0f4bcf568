"""Logs for running unattended: one JSON object per line, levels, and never a secret."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, write_config

from roundup_bot.core.redaction import redact
from roundup_bot.entrypoints.cli._logging import setup_logging

TOKEN = "AAAAbearer-token-1234567890"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_roundup", False):
                root.removeHandler(handler)
        root.setLevel(level)


def test_json_lines_carry_the_job_fields_and_no_secrets(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
) -> None:
    monkeypatch.setenv("ROUNDUP_TWITTER_BEARER_TOKEN", TOKEN)
    setup_logging("INFO", "json")
    log = logging.getLogger("roundup_bot.test")
    log.info(
        "job %s: %s", "mentions", "ok", extra={"job": "mentions", "next_run": "2026-11-27T09:00"}
    )
    log.warning("calling the API with %s", TOKEN)
    log.error("cannot open postgresql+psycopg://bot:s3cret-pass@db.internal/roundup")
    try:
        raise RuntimeError(f"Authorization: Bearer {TOKEN}")
    except RuntimeError:
        log.exception("request failed")
    log.debug("not shown at INFO")
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]
    assert len(lines) == 4
    assert lines[0]["job"] == "mentions"
    assert lines[0]["next_run"] == "2026-11-27T09:00"
    assert lines[0]["level"] == "INFO"
    assert TOKEN not in err
    assert "s3cret-pass" not in err
    assert lines[1]["message"] == "calling the API with ***"
    assert lines[2]["message"] == "cannot open postgresql+psycopg://bot:***@db.internal/roundup"
    assert "RuntimeError" in lines[3]["error"]


def test_text_lines_redact_tracebacks_too(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
) -> None:
    monkeypatch.setenv("ROUNDUP_WEB_SECRET_KEY", "web-session-secret-xyz")
    setup_logging("WARNING", "text")
    log = logging.getLogger("roundup_bot.test")
    log.info("below the level")
    try:
        raise ValueError("key web-session-secret-xyz rejected")
    except ValueError:
        log.exception("boom")
    err = capsys.readouterr().err
    assert "below the level" not in err
    assert "web-session-secret-xyz" not in err
    assert "ValueError: key *** rejected" in err


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("polled 3 feeds: https://example.gov.uk/feed ok") == (
        "polled 3 feeds: https://example.gov.uk/feed ok"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:p@ss@host/feed", "https://user:***@host/feed"),
        ("postgresql+psycopg://bot:s3cr@t@db:5432/rb", "postgresql+psycopg://bot:***@db:5432/rb"),
        ("https://u:pw@h/x?mail=a@b.example", "https://u:***@h/x?mail=a@b.example"),
        ("https://host:8080/path@segment", "https://host:8080/path@segment"),
        ("https://reader@host/feed", "https://reader@host/feed"),
    ],
)
def test_a_url_password_is_hidden_whole_even_with_an_at_sign_in_it(
    text: str, expected: str
) -> None:
    assert redact(text) == expected


def test_a_real_command_never_logs_a_secret(tmp_path: Path) -> None:
    """The token appears in a feed URL that fails: the log line about it is redacted."""
    config = write_config(
        tmp_path,
        f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        f'[[feeds]]\nurl = "http://127.0.0.1:9/feed?key={TOKEN}"\n',
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDUP_")}
    env.update(PYTHONPATH=str(ROOT), ROUNDUP_TWITTER_BEARER_TOKEN=TOKEN)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "roundup_bot", "--config", str(config)),
            *("--log-format", "json", "--log-level", "DEBUG", "poll", "--quiet"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert any("failed" in r["message"] and "key=***" in r["message"] for r in records)
    assert TOKEN not in done.stderr
    assert all(line.startswith("{") for line in done.stderr.splitlines() if line.strip())
