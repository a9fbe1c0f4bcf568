"""Storage: the only package that imports SQLAlchemy.

:func:`open_storage` opens (and migrates) the database and returns a
:class:`Storage`, whose attributes group the queries by area. Everything
returned is a record from :mod:`roundup_bot.core.records`, never an ORM row.
"""

from __future__ import annotations

from sqlalchemy import Engine

from roundup_bot.storage.addresses import AddressRepository
from roundup_bot.storage.announcements import AnnouncementRepository
from roundup_bot.storage.candidates import CandidateRepository
from roundup_bot.storage.db import create_db_engine, migrate
from roundup_bot.storage.draft_views import DraftViewRepository
from roundup_bot.storage.drafts import DraftRepository
from roundup_bot.storage.editors import EditorRepository, SecretRepository
from roundup_bot.storage.feeds import FeedRepository
from roundup_bot.storage.job_runs import JobRunRepository
from roundup_bot.storage.leases import FeedLeases
from roundup_bot.storage.link_details import LinkDetailsRepository
from roundup_bot.storage.locks import JobLocks
from roundup_bot.storage.notifications import NotificationRepository
from roundup_bot.storage.state import StateRepository
from roundup_bot.storage.suggestions import SuggestionRepository
from roundup_bot.storage.wordpress import WordPressRepository


class Storage:
    """The database, grouped by area. Built by :func:`open_storage`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.feeds = FeedRepository(engine)
        self.candidates = CandidateRepository(engine)
        self.addresses = AddressRepository(engine)
        self.state = StateRepository(engine)
        self.suggestions = SuggestionRepository(engine)
        self.drafts = DraftRepository(engine)
        self.draft_views = DraftViewRepository(engine)
        self.link_details = LinkDetailsRepository(engine)
        self.locks = JobLocks(engine)
        self.leases = FeedLeases(engine)
        self.job_runs = JobRunRepository(engine)
        self.editors = EditorRepository(engine)
        self.secrets = SecretRepository(engine)
        self.wordpress = WordPressRepository(engine)
        self.notifications = NotificationRepository(engine)
        self.announcements = AnnouncementRepository(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()


def open_storage(url: str, *, echo: bool = False, auto_migrate: bool = True) -> Storage:
    """Open the database at ``url``; create or upgrade its schema first unless told not to.

    Raises:
        StorageError: the database cannot be reached, opened or migrated.
    """
    engine = create_db_engine(url, echo=echo)
    if auto_migrate:
        migrate(engine)
    return Storage(engine)


__all__ = ["Storage", "open_storage"]
