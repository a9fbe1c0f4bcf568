"""The core does no I/O: importing it loads no database, HTTP, feed, X, web,
scheduler or template library. And `draft`/`show` stay light, as the README promises."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

IO_LIBRARIES = (
    "sqlalchemy",
    "alembic",
    "httpx",
    "feedparser",
    "tweepy",
    "requests",
    "flask",
    "apscheduler",
    "jinja2",
)

CORE_MODULES = (
    "roundup_bot.core",
    "roundup_bot.core.records",
    "roundup_bot.core.errors",
    "roundup_bot.core.curation",
    "roundup_bot.core.weeks",
    "roundup_bot.core.ranking",
    "roundup_bot.core.suggestion_rules",
    "roundup_bot.core.redaction",
)


def loaded_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after running ``code``."""
    report = "import json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    probe = f"{code}\n{report}"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_the_core_loads_no_io_library() -> None:
    import pkgutil

    import roundup_bot.core

    modules = {
        f"roundup_bot.core.{m.name}" for m in pkgutil.iter_modules(roundup_bot.core.__path__)
    }
    assert set(CORE_MODULES) - {"roundup_bot.core"} <= modules
    code = "\n".join(f"import {name}" for name in sorted(modules | {"roundup_bot.core"}))
    assert loaded_after(code) & set(IO_LIBRARIES) == set()


@pytest.mark.parametrize("command", ["draft", "show"])
def test_draft_and_show_stay_light(command: str) -> None:
    code = f"from roundup_bot.entrypoints.cli import cli\ncli.get_command(None, {command!r})"
    heavy = {"flask", "tweepy", "apscheduler", "feedparser", "httpx"}
    assert loaded_after(code) & heavy == set()


def modules_after(code: str) -> set[str]:
    """Every module a fresh interpreter has loaded after running ``code``."""
    report = "import json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


#: What each command's start-up leaves for the run that needs it (each costs start-up
#: time, and the benchmark times these commands): the PostgreSQL dialect (a SQLite
#: database never needs it), mail, publishing, and for `candidates` the templates.
NOT_AT_START_UP = {
    "draft": {
        "sqlalchemy.dialects.postgresql",
        "smtplib",
        "roundup_bot.adapters.mail",
        "roundup_bot.services.publish",
    },
    "candidates": {
        "sqlalchemy.dialects.postgresql",
        "smtplib",
        "jinja2",
        "roundup_bot.services.health",
    },
}


@pytest.mark.parametrize("command", sorted(NOT_AT_START_UP))
def test_a_command_loads_at_start_up_only_what_it_uses(command: str) -> None:
    code = f"from roundup_bot.entrypoints.cli import cli\ncli.get_command(None, {command!r})"
    assert modules_after(code) & NOT_AT_START_UP[command] == set()
