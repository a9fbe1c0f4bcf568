"""The command table: every command module's commands are reachable, and each has help text."""

from __future__ import annotations

import importlib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT

from roundup_bot.entrypoints.cli import LAZY_COMMANDS, cli

MODULES = sorted({module for module, _attribute in LAZY_COMMANDS.values()})


@pytest.mark.parametrize("module_name", MODULES)
def test_every_command_a_module_exports_is_in_the_lazy_table(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = {command.name for command in module.COMMANDS}
    listed = {name for name, (mod, _attr) in LAZY_COMMANDS.items() if mod == module_name}
    assert exported == listed


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_every_command_has_help(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert command.name == name
    assert (command.help or "").strip(), f"{name} has no help text"
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in LAZY_COMMANDS:
        assert f"  {name} " in result.output


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"roundup-bot, version {version('roundup-bot')}\n"


def test_readme_mentions_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in LAZY_COMMANDS if f"roundup-bot {name}" not in readme]
    assert missing == []


@pytest.mark.parametrize("command", ["init", "status", "candidates", "drafts"])
def test_an_unreachable_database_is_one_line_and_status_1(
    command: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from roundup_bot.entrypoints.cli import main

    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql+psycopg://nobody@127.0.0.1:1/none"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config), command])
    assert exit_info.value.code == 1
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: cannot open the database")
