"""The one place that builds and wires the parts from the settings.

The CLI, the scheduler and the web app all call :func:`build_app`; the parts
themselves receive what they need and never build it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from roundup_bot.adapters.opml import read_opml
from roundup_bot.config import Settings
from roundup_bot.core.records import ConfiguredFeed, HttpPolicy, PollOptions
from roundup_bot.storage import Storage, open_storage


@dataclass
class App:
    settings: Settings
    storage: Storage

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
        )

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
        known = {feed.url for feed in feeds}
        for feed in read_opml(settings.resolve_path(settings.polling.opml), settings.path):
            if feed.url not in known:
                known.add(feed.url)
                feeds.append(feed)
    return feeds


def build_app(settings: Settings, *, auto_migrate: bool = True) -> App:
    """Open the storage named by the settings and wire the app.

    Raises:
        StorageError: the database cannot be opened or migrated.
    """
    storage = open_storage(
        settings.database.url, echo=settings.database.echo, auto_migrate=auto_migrate
    )
    return App(settings=settings, storage=storage)
