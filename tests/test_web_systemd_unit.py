"""contrib/roundup-bot-web.service: a unit systemd accepts, serving the page with waitress."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

UNIT = ROOT / "contrib" / "roundup-bot-web.service"


def parsed() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"), source=str(UNIT))
    return parser


def test_the_unit_runs_roundup_bot_web_on_loopback_as_an_unprivileged_user() -> None:
    unit = parsed()
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    command = service["ExecStart"].split()
    assert command[0].startswith("/")
    assert command[0].endswith("/roundup-bot")
    assert command[command.index("web") + 1 :] == ["--host", "127.0.0.1", "--port", "8080"]
    assert service["User"] not in ("", "root")
    assert service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict"
    for hardening in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert service[hardening] == "yes"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_session_key_comes_from_the_secrets_file_not_the_unit() -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert "EnvironmentFile=-/etc/roundup-bot/secrets.env" in text
    for line in text.splitlines():
        if line.startswith("Environment="):
            assert "SECRET" not in line


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the structural checks above still ran")
    true = shutil.which("true")
    assert true is not None
    program = parsed()["Service"]["ExecStart"].split()[0]
    copy = tmp_path / "roundup-bot-web.service"
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(program, true), encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in done.stderr.splitlines()
        if "roundup-bot-web.service" in line or "Unknown" in line or "Failed" in line
    ]
    assert done.returncode == 0, done.stderr
    assert problems == []
