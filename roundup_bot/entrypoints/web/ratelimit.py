"""Slowing down password guessing: at most N failed sign-ins a minute per name
and per address.

Failures are counted in memory, in the one web process (``roundup-bot web``
runs a single waitress process with threads, so every request sees the same
counts). A restart forgets them, which costs an attacker a minute at most and
spares the database a write per failed attempt. Only failures count, and a
success clears nothing: a guesser who also knows one valid password cannot use
it to reset the counter of the address they guess from.

An attempt is reserved (counted as a failure) before its password is checked,
in one step with the check of the limit: :meth:`SignInLimiter.reserve`. A
success then withdraws only its own reservation. Checking first and counting
after the (slow, argon2) password check would let every attempt sent at once
pass the check before any was counted.

A browser that has signed in as an editor before carries a signed "device"
cookie (see roundup_bot.entrypoints.web.auth). Its attempts under that editor's name are
counted against the device, not the name, so a stranger who knows an editor's
name can lock the name out for everyone else but not for the editor's own
browser (the "device cookie" defence OWASP describes). The address limit
applies to every attempt.

The clock is passed in (``time.monotonic`` in the app), so the logic is testable
without waiting. An IPv6 address is counted as its /64 network, since one
machine can use any address in it.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import deque
from dataclasses import dataclass

from roundup_bot.storage.editors import name_key


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in attempt as :meth:`SignInLimiter.reserve` answered it."""

    keys: tuple[str, str]  # what it counts against: the name (or device), the address
    at: float  # the monotonic moment it was counted at
    wait: float | None  # refused: seconds until a try is allowed again; None: reserved


class SignInLimiter:
    def __init__(self, limit: int = 5, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys  # memory bound against floods of made-up names
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(
        self, name: str, address: str, now: float, device: str | None = None
    ) -> float | None:
        """Seconds until this name (or, for a known browser, this ``device``) and
        address may try again, or None if they may now."""
        with self._lock:
            waits = [self._wait(key, now) for key in self._keys(name, address, device)]
        longest = max((w for w in waits if w is not None), default=None)
        return longest

    def reserve(self, name: str, address: str, now: float, device: str | None = None) -> Attempt:
        """Check the limit and, when it allows a try, count this one as a failure, in
        one step: of attempts sent at once, only ``limit`` get their password checked.
        A refused attempt (``wait`` set) is not counted. Call :meth:`succeeded` when
        the password was right."""
        keys = self._keys(name, address, device)
        with self._lock:
            waits = [w for w in (self._wait(key, now) for key in keys) if w is not None]
            if waits:
                return Attempt(keys, now, max(waits))
            self._count(keys, now)
        return Attempt(keys, now, None)

    def succeeded(self, attempt: Attempt) -> None:
        """Withdraw a reserved attempt whose password was right."""
        if attempt.wait is not None:
            return
        with self._lock:
            for key in attempt.keys:
                times = self._failures.get(key)
                if times and attempt.at in times:
                    times.remove(attempt.at)
                    if not times:
                        del self._failures[key]

    def failed(self, name: str, address: str, now: float, device: str | None = None) -> None:
        """Count a failure outright (without a check of the limit)."""
        with self._lock:
            self._count(self._keys(name, address, device), now)

    def _count(self, keys: tuple[str, str], now: float) -> None:
        if len(self._failures) >= self.max_keys:
            self._sweep(now)
        for key in keys:
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while len(times) > self.limit:
                times.popleft()

    def _keys(self, name: str, address: str, device: str | None) -> tuple[str, str]:
        who = "device:" + device if device else "name:" + name_key(name)
        return (who, "addr:" + _network(address))

    def _wait(self, key: str, now: float) -> float | None:
        times = self._failures.get(key)
        if not times:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        if len(times) < self.limit:
            return None
        return max(times[0] + self.window_s - now, 0.0)

    def _sweep(self, now: float) -> None:
        for key in list(self._failures):
            self._wait(key, now)
        while len(self._failures) >= self.max_keys:  # still full: drop the oldest
            oldest = min(self._failures, key=lambda k: self._failures[k][-1])
            del self._failures[oldest]


def _network(address: str) -> str:
    """An IPv6 address counts as its /64, which one machine can fill at will."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
