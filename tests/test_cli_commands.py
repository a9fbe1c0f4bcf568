"""The command table: every command module's commands are reachable, and each has help text."""

from __future__ import annotations

import importlib

import click
import pytest
from click.testing import CliRunner

from roundup_bot.cli import LAZY_COMMANDS, cli

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


def test_readme_mentions_every_command() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [name for name in LAZY_COMMANDS if f"roundup-bot {name}" not in readme]
    assert missing == []
