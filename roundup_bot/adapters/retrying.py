"""One call to a social API, with the patience an unattended job should have.

Server errors and timeouts are retried a few times with exponential backoff
(tenacity); a rate limit whose reset is near is waited out (twice at most),
one further away stops the call with :class:`~roundup_bot.core.errors.ChannelLimited`
saying when to come back; anything else is raised as the adapter translated it.
The adapter decides what each library error means through ``translate``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import tenacity

from roundup_bot.core.errors import ChannelLimited, ChannelUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_RATE_LIMIT_WAITS = 2  # per call: after that the run stops and keeps its place


@dataclass(frozen=True, slots=True)
class CallPolicy:
    retries: int = 3  # after a 5xx or a timeout
    retry_backoff: float = 1.0  # seconds before the first retry; doubles, 30 s at most
    max_rate_limit_wait: float = 60.0  # seconds we wait for a rate-limit reset at most


class Transient(Exception):
    """A failure worth retrying (5xx, timeout, dropped connection)."""


class RateLimited(Exception):
    """The service said "too many requests"; ``reset_at`` (epoch seconds) when it said when."""

    def __init__(self, reset_at: float | None) -> None:
        self.reset_at = reset_at
        super().__init__("rate limited")


def call(
    label: str,
    request: Callable[[], T],
    translate: Callable[[Exception], Exception],
    policy: CallPolicy,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    retry: bool = True,
) -> T:
    """Run ``request``; ``translate`` maps each library error to Transient,
    RateLimited, or the ChannelError to raise. ``retry=False`` for posting:
    a retried post could appear twice.

    Raises:
        ChannelLimited: a rate limit too far away (or hit again after waiting).
        ChannelUnavailable: still failing after the retries.
        ChannelError: whatever ``translate`` returned for other failures.
    """
    attempts = policy.retries + 1 if retry else 1
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=policy.retry_backoff, max=30),
        retry=tenacity.retry_if_exception_type(Transient),
        sleep=sleep,
        before_sleep=lambda state: log.info(
            "%s: %s; retrying (%d of %d)",
            label,
            state.outcome.exception() if state.outcome else "failed",
            state.attempt_number,
            attempts - 1,
        ),
        reraise=True,
    )
    try:
        result: T = retrying(_once, label, request, translate, policy, sleep, clock)
        return result
    except Transient as exc:
        tries = f"{attempts} tries" if attempts > 1 else "1 try"
        raise ChannelUnavailable(f"{label}: {exc} (gave up after {tries})") from exc


def _once(
    label: str,
    request: Callable[[], T],
    translate: Callable[[Exception], Exception],
    policy: CallPolicy,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> T:
    waits = 0
    while True:
        try:
            return request()
        except Exception as exc:
            mapped = translate(exc)
            if not isinstance(mapped, RateLimited):
                raise mapped from exc
            wait = rate_limit_wait(label, mapped.reset_at, waits, policy, clock())
            waits += 1
            log.warning("%s: rate limited; waiting %.0f s for the reset", label, wait)
            sleep(wait)


def rate_limit_wait(
    label: str, reset_at: float | None, waits: int, policy: CallPolicy, now: float
) -> float:
    """Seconds to wait for a rate-limit reset, or raise ChannelLimited when we should not."""
    resume_at = datetime.fromtimestamp(reset_at, UTC) if reset_at is not None else None
    if reset_at is not None and waits < MAX_RATE_LIMIT_WAITS:
        wait = max(reset_at - now, 0.0) + 1.0
        if wait <= policy.max_rate_limit_wait + 1.0:
            return min(wait, policy.max_rate_limit_wait)
    when = (
        f"it may resume after {resume_at:%Y-%m-%d %H:%M:%S} UTC"
        if resume_at is not None
        else "the service did not say when it resets (try again in 15 minutes)"
    )
    raise ChannelLimited(f"{label}: rate limited (HTTP 429); {when}", 429, resume_at)
