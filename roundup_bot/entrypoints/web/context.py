"""What every view needs, attached once to the Flask app by :func:`create_app`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from roundup_bot.entrypoints.web.accounts import Accounts
from roundup_bot.entrypoints.web.ratelimit import SignInLimiter
from roundup_bot.entrypoints.web.service import RankingCache, RoundupService
from roundup_bot.services.app import App

EXTENSION = "roundup_bot"


@dataclass
class WebContext:
    roundup: App  # settings and storage, wired by roundup_bot.services.app.build_app
    accounts: Accounts
    limiter: SignInLimiter
    clock: Callable[[], datetime]  # UTC now; a seam for tests
    monotonic: Callable[[], float] = field(default=time.monotonic)
    owns_roundup: bool = False  # close the storage when the app is discarded
    rankings: RankingCache = field(default_factory=RankingCache)

    def service(self) -> RoundupService:
        return RoundupService(self.roundup, self.rankings)


def web() -> WebContext:
    """The current Flask app's :class:`WebContext`."""
    found: WebContext = current_app.extensions[EXTENSION]
    return found
