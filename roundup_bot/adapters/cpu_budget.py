"""A CPU budget for parsing one untrusted document.

A hostile feed can make a parser work far harder than its size suggests (1.1 MB
of markup nested 100,000 deep once took 80 s of CPU): texts are bounded before
they are cleaned, and on top of that each document's parse gets a budget of CPU
seconds. Over it, the parse stops with :class:`OverBudget`, the document fails
alone, and the thread or worker process goes on to the next one.

Two mechanisms enforce the one limit:

* Checkpoints. Code that loops over untrusted input calls :func:`tick` (each
  start tag feedparser reads) or :func:`check` (each entry cleaned). They compare
  the calling thread's CPU time with the budget, so they work in the poll's
  parse threads as well as in worker processes.
* In a worker process, whose parse runs on the main thread,
  :func:`process_cpu_limit` also arms a ``SIGPROF`` timer on the process's CPU
  time, which stops a parse that spends its budget between two checkpoints.

``OverBudget`` is a BaseException, like KeyboardInterrupt: a library's
``except Exception`` around the code it interrupts must not swallow it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType

#: tick() looks at the clock once per this many calls (a start tag costs far more).
TICKS_PER_CHECK = 16


class OverBudget(BaseException):
    """The parse used up its CPU budget."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"more than {seconds:g} s of CPU")
        self.seconds = seconds


@dataclass(slots=True)
class _Budget:
    seconds: float
    deadline: float  # time.thread_time() when it is spent
    ticks: int = 0


_CURRENT: ContextVar[_Budget | None] = ContextVar("roundup_cpu_budget", default=None)


@contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    """Checkpoints inside the block raise OverBudget once this thread has spent
    ``seconds`` of CPU in it."""
    token = _CURRENT.set(_Budget(seconds, time.thread_time() + seconds))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def check() -> None:
    """A checkpoint: raises OverBudget when the current budget is spent."""
    budget = _CURRENT.get()
    if budget is not None and time.thread_time() > budget.deadline:
        raise OverBudget(budget.seconds)


def tick() -> None:
    """A cheap checkpoint for very frequent events: looks at the clock every
    TICKS_PER_CHECK calls."""
    budget = _CURRENT.get()
    if budget is None:
        return
    budget.ticks += 1
    if budget.ticks % TICKS_PER_CHECK == 0 and time.thread_time() > budget.deadline:
        raise OverBudget(budget.seconds)


@contextmanager
def process_cpu_limit(seconds: float) -> Iterator[None]:
    """Raise OverBudget in the block once the process has spent ``seconds`` of
    CPU in it, wherever the block is (between checkpoints too).

    Only for the main thread of a process that does nothing else meanwhile (a
    parse worker): the timer counts the whole process's CPU, and Python runs
    signal handlers on the main thread. A signal that arrives as the block ends
    is ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # no signal handler can be set here: the checkpoints alone apply
        return
    armed = True

    def on_sigprof(_signum: int, _frame: FrameType | None) -> None:
        if armed:
            raise OverBudget(seconds)

    previous = signal.signal(signal.SIGPROF, on_sigprof)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
