"""The cyclic collector is paused only while a one-shot command runs, and comes back
after it, even when the command fails."""

from __future__ import annotations

import gc

import pytest

from roundup_bot.entrypoints.cli._gc import cycle_collection_paused, without_cycle_collection


def test_a_command_runs_with_the_collector_paused_and_gives_it_back() -> None:
    seen: list[bool] = []

    @without_cycle_collection
    def command(x: int) -> int:
        seen.append(gc.isenabled())
        return x + 1

    assert gc.isenabled()
    assert command(1) == 2
    assert seen == [False]
    assert gc.isenabled()


def test_the_collector_comes_back_after_a_failure_and_stays_off_if_it_was() -> None:
    with pytest.raises(RuntimeError), cycle_collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()
