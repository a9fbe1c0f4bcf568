"""Run the real ``roundup-bot`` entry point in-process or as a subprocess.

In-process runs go through :func:`roundup_bot.entrypoints.cli.main` (not just the click
group), so exit statuses and the one-line error messages are the ones a user
sees. A crash that escapes ``main`` comes back as ``code == -1`` with the
traceback in ``stderr``, so a test can assert there was none.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def _clean_env(extra: Mapping[str, str | None] | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        name: None
        for name in os.environ
        if name.startswith("ROUNDUP_") and name != "ROUNDUP_TEST_POSTGRES_URL"
    }
    # Tables fit the terminal; with no terminal, their width must not depend on how
    # the tests were started (a pytest worker or not): wide enough for whole lines.
    env["COLUMNS"] = "400"
    env.update(extra or {})
    return env


def run_cli(
    args: Sequence[str], env: Mapping[str, str | None] | None = None, input: str | None = None
) -> Run:
    """``roundup-bot ARGS`` in this process (``input``: its standard input; an ``env``
    value of None unsets that variable)."""
    from roundup_bot.entrypoints.cli import main

    runner = CliRunner()
    code = 0
    with runner.isolation(input=input, env=_clean_env(env)) as (out, err, _mixed):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            code = -1
            sys.stderr.write(traceback.format_exc())
        finally:
            _drop_log_handlers()
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return Run(code, stdout, stderr)


def _drop_log_handlers() -> None:
    """The CLI installs a handler on the captured stderr; take it away again."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_roundup", False):
            root.removeHandler(handler)


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ROUNDUP_") or k == "ROUNDUP_TEST_POSTGRES_URL"
    }
    env.update(extra or {})
    return env


def start_cli(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    capture: bool = True,
    new_group: bool = False,
) -> subprocess.Popen[str]:
    """``python -m roundup_bot ARGS`` as a child process (for kill and race tests).

    ``capture=False`` sends its output nowhere: needed when the child may leave
    grandchildren holding the pipes open, which would make communicate() hang.
    ``new_group=True`` starts it in a process group of its own (id = its pid),
    so a test can find and clean up everything it started.
    """
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "roundup_bot", *args],
        cwd=cwd or ROOT,
        env=subprocess_env(env),
        stdout=output,
        stderr=output,
        text=True,
        start_new_session=new_group,
    )
