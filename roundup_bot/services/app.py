"""The one place that builds and wires the parts from the settings.

The CLI, the scheduler and the web app all call :func:`build_app`; the parts
themselves receive what they need and never build it: the storage, the clock,
the HTTP limits, the X client and its credentials (read from ``environ`` here,
nowhere else in the use cases).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from roundup_bot.config import Settings
from roundup_bot.core.clock import Clock, utc_now
from roundup_bot.core.records import ConfiguredFeed, HttpPolicy, ParseLimits, PollOptions
from roundup_bot.storage import Storage, open_storage

if TYPE_CHECKING:
    from roundup_bot.services.channels import OpenChannel


@dataclass
class App:
    settings: Settings
    storage: Storage
    #: Where secrets (the X credentials) are read from.
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    #: The one clock every use case reads (see roundup_bot.core.clock).
    clock: Clock = utc_now

    def close(self) -> None:
        self.storage.close()

    def feed_policy(self) -> HttpPolicy:
        """Limits for fetching the configured feeds (the operator chose them, so
        private addresses are allowed: an intranet feed is legitimate)."""
        return self._http_policy(allow_private=True)

    def link_policy(self) -> HttpPolicy:
        """Limits for fetching pages that strangers suggested: private addresses
        are refused unless [network] allow_private_addresses is set."""
        return self._http_policy(allow_private=self.settings.network.allow_private_addresses)

    def _http_policy(self, *, allow_private: bool) -> HttpPolicy:
        polling = self.settings.polling
        return HttpPolicy(
            timeout=polling.timeout,
            max_bytes=polling.max_bytes,
            max_redirects=polling.max_redirects,
            per_host=polling.per_host,
            allow_private=allow_private,
        )

    def poll_options(self) -> PollOptions:
        polling = self.settings.polling
        return PollOptions(
            concurrency=polling.concurrency,
            interval_s=polling.interval_seconds,
            max_backoff_s=polling.max_backoff_seconds,
            # One document's parse gets the same limit as its fetch, in CPU seconds.
            parse_limits=ParseLimits(max_entries=polling.max_entries, cpu_seconds=polling.timeout),
        )

    def open_channel(self, name: str, sleep: Callable[[float], None] = time.sleep) -> OpenChannel:
        """Build one suggestion channel (its adapter, loaded now and only now, with
        credentials from this app's environment) for a mentions run.

        Raises:
            ConfigError: a credential it needs is not set.
            TemplateError: its thank-you template is missing or broken.
        """
        from roundup_bot.services.channels import open_channel

        return open_channel(name, self.settings, self.environ, sleep)

    def check_channel(self, name: str) -> None:
        """Raise what :meth:`open_channel` would (a missing credential, a broken
        template) without reading anything."""
        from roundup_bot.services.channels import check_channel

        check_channel(name, self.settings, self.environ)

    def sync_feeds(self, now: datetime) -> list[ConfiguredFeed]:
        feeds = configured_feeds(self.settings)
        self.storage.feeds.sync(feeds, now)
        return feeds


def configured_feeds(settings: Settings) -> list[ConfiguredFeed]:
    """[[feeds]] from the config, then any from the OPML file not already listed."""
    feeds = [
        ConfiguredFeed(url=f.url, name=f.name, weight=f.weight, enabled=f.enabled)
        for f in settings.feeds
    ]
    if settings.polling.opml:
        from roundup_bot.adapters.opml import read_opml  # XML parsing, for this option only

        known = {feed.url for feed in feeds}
        for feed in read_opml(settings.resolve_path(settings.polling.opml), settings.path):
            if feed.url not in known:
                known.add(feed.url)
                feeds.append(feed)
    return feeds


def build_app(
    settings: Settings,
    *,
    auto_migrate: bool = True,
    environ: Mapping[str, str] | None = None,
    clock: Clock = utc_now,
) -> App:
    """Open the storage named by the settings and wire the app; secrets come from
    ``environ`` (default: the process environment).

    Raises:
        StorageError: the database cannot be opened or migrated.
    """
    storage = open_storage(
        settings.database.url, echo=settings.database.echo, auto_migrate=auto_migrate
    )
    return App(
        settings=settings,
        storage=storage,
        environ=os.environ if environ is None else environ,
        clock=clock,
    )
