"""The one clock: the single place roundup-bot reads the time of day.

Pure code never calls it: the core's decisions take ``now`` as an argument. The
wiring (``services/app.py``) gives each part a :data:`Clock`, normally
:func:`utc_now`; tests pass a fixed or stepping one instead. (Deadlines and
waits use ``time.monotonic``, which measures durations, not the time of day.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: Returns the current moment as an aware UTC datetime.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, in UTC: the default :data:`Clock`."""
    return datetime.now(UTC)
