"""Editors' email addresses from the command line, and the [notify] settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_config
from helpers.cli import run_cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n')


def test_an_editor_is_added_with_an_address_changed_and_listed(config: Path) -> None:
    added = run_cli(
        ["--config", str(config), "editor", "add", "ann", "--email", "ann@council.gov.uk"],
        input="a good long password 1\n",
    )
    assert added.code == 0, added
    assert added.stdout.strip() == "added editor ann <ann@council.gov.uk>"
    listed = run_cli(["--config", str(config), "editor", "list", "--json"])
    assert [(e["name"], e["email"]) for e in json.loads(listed.stdout)] == [
        ("ann", "ann@council.gov.uk")
    ]
    changed = run_cli(["--config", str(config), "editor", "set", "ann", "--email", "a@x.gov.uk"])
    assert changed.stdout.strip() == "ann will be emailed at a@x.gov.uk when a draft is ready"
    table = run_cli(["--config", str(config), "editor", "list"]).stdout
    assert "a@x.gov.uk" in table
    cleared = run_cli(["--config", str(config), "editor", "set", "ann", "--email", ""])
    assert cleared.stdout.strip() == "ann will no longer be emailed"


@pytest.mark.parametrize(
    "address", ["Ann <ann@council.gov.uk>", "ann@council.gov.uk\nBcc: x@y.org", "not-an-address"]
)
def test_an_address_that_is_not_plain_is_refused(config: Path, address: str) -> None:
    run_cli(["--config", str(config), "editor", "add", "ann"], input="a good long password 1\n")
    refused = run_cli(["--config", str(config), "editor", "set", "ann", "--email", address])
    assert refused.code == 2
    assert "is not an email address" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_setting_an_address_of_nobody_says_so(config: Path) -> None:
    result = run_cli(["--config", str(config), "editor", "set", "zed", "--email", "z@x.gov.uk"])
    assert result.code == 1
    assert "there is no editor named 'zed'" in result.stderr


@pytest.mark.parametrize(
    ("notify", "key", "problem"),
    [
        ('smtp_url = "http://mail.example.org"', "notify.smtp_url", "smtp://host:587"),
        (
            'smtp_url = "smtp://u:hunter2@mail.example.org"\nfrom = "r@x.org"',
            "notify.smtp_url",
            "ROUNDUP_SMTP_PASSWORD",
        ),
        ('smtp_url = "smtp://mail.example.org"', "notify", "from: needed"),
        ('smtp_url = "smtp://mail.example.org"\nfrom = "Roundup <r@x.org>"', "notify.from", ""),
        ('webhook_url = "ftp://x.org/hook"', "notify.webhook_url", "http(s)"),
    ],
)
def test_notify_settings_are_checked(tmp_path: Path, notify: str, key: str, problem: str) -> None:
    config = write_config(
        tmp_path, f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n[notify]\n{notify}\n'
    )
    result = run_cli(["--config", str(config), "status"])
    assert result.code == 2, result
    [line] = result.stderr.strip().splitlines()
    assert str(config) in line
    assert key in line
    assert problem in line
    assert "hunter2" not in line
