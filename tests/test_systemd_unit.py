"""contrib/roundup-bot.service: a unit systemd accepts, with the promises the README makes."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

UNIT = ROOT / "contrib" / "roundup-bot.service"


def parsed() -> configparser.ConfigParser:
    # systemd allows repeated keys (SystemCallFilter=...) and '%' specifiers.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"), source=str(UNIT))
    return parser


def test_the_unit_has_the_sections_and_settings_a_daemon_needs() -> None:
    unit = parsed()
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    exec_start = service["ExecStart"].split()
    assert exec_start[0].startswith("/")
    assert exec_start[0].endswith("/roundup-bot")
    assert exec_start[-1] == "run"
    assert service["Restart"] == "on-failure"
    assert service["User"] not in ("", "root")
    assert service["KillSignal"] == "SIGTERM"
    assert service["TimeoutStopSec"].removesuffix("s").isdigit()
    assert int(service["TimeoutStopSec"].removesuffix("s")) > 10  # the daemon stops within 10 s
    for hardening in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert service[hardening] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "roundup-bot"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit["Unit"]["After"]


def test_no_secret_is_written_in_the_unit() -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert "EnvironmentFile=-/etc/roundup-bot/secrets.env" in text
    for line in text.splitlines():
        if line.startswith("Environment="):
            assert "TOKEN" not in line
            assert "SECRET" not in line


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the structural checks above still ran")
    true = shutil.which("true")
    assert true is not None
    # verify also checks that ExecStart exists; point it at a real program.
    text = UNIT.read_text(encoding="utf-8")
    program = parsed()["Service"]["ExecStart"].split()[0]
    copy = tmp_path / "roundup-bot.service"
    copy.write_text(text.replace(program, true), encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in done.stderr.splitlines()
        if "roundup-bot.service" in line or "Unknown" in line or "Failed" in line
    ]
    assert done.returncode == 0, done.stderr
    assert problems == []
