"""The exit statuses of ``roundup-bot``, and which error ends in which: the one place.

Documented in the README (under "Exit statuses")::

    0    the command did its work (a poll that completed is 0 even if some feeds failed)
    1    the run itself could not happen (database unreachable, a source failed as a whole)
    2    bad config (ConfigError) or bad command-line usage (click's usage errors)
    3    the same job is already running elsewhere and this run skipped (LockHeldError)
    4    a source stopped at a limit (X rate limit or usage cap, or max_posts_per_month);
         its place is kept and the next run carries on
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

from collections.abc import Iterable

from roundup_bot.core.errors import ChannelLimited, ConfigError, LockHeldError, RoundupError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3
EXIT_LIMITED = 4
EXIT_INTERRUPTED = 130


def exit_for(exc: RoundupError) -> tuple[int, str]:
    """The exit status for an error that reached the command line, and the word
    its one line starts with ("config error: ...")."""
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG, "config error"
    if isinstance(exc, LockHeldError):
        return EXIT_LOCKED, "skipped"
    if isinstance(exc, ChannelLimited):
        return EXIT_LIMITED, "stopped"
    return EXIT_FAILED, "error"


def exit_for_channel_runs(runs: Iterable[tuple[str, int]]) -> int:
    """The exit status of a ``mentions`` run from each channel's (outcome, failed
    thank-you replies): 1 when one failed (or a reply did), 4 when a limit or a stop
    ended one, else 0."""
    runs = list(runs)
    if any(outcome == "failed" or failures for outcome, failures in runs):
        return EXIT_FAILED
    if any(outcome != "completed" for outcome, _failures in runs):
        return EXIT_LIMITED
    return EXIT_OK
