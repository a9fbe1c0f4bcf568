"""Editors, their web sessions, and the app's generated secrets.

Passwords arrive here already hashed (argon2, by :mod:`roundup_bot.entrypoints.web.accounts`);
this module never sees a password. Session tokens arrive already hashed too: the
table keeps only the SHA-256 of the token in the cookie, so a copy of the
database cannot be replayed as a session.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from roundup_bot.core.errors import EditorExistsError
from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.schema import app_secrets, editors, web_sessions


@dataclass(frozen=True, slots=True)
class Editor:
    """An editor as listed (no password hash)."""

    id: int
    name: str
    created_at: datetime
    last_sign_in: datetime | None
    email: str | None = None  # told when the week's draft is ready


@dataclass(frozen=True, slots=True)
class EditorCredentials:
    """What signing in needs: the stored hash, and who it belongs to."""

    id: int
    name: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in editor's session."""

    editor: Editor
    started: datetime
    expires_at: datetime


class EditorRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, name: str, password_hash: str, now: datetime, email: str | None = None) -> Editor:
        """Create an editor. Raises EditorExistsError when the name is taken
        (names compare without regard to case)."""
        with write(self.engine) as conn:
            if _editor_id(conn, name) is not None:
                raise EditorExistsError(f"an editor named {name!r} already exists")
            try:
                new_id = conn.execute(
                    editors.insert()
                    .values(name=name, password_hash=password_hash, created_at=now, email=email)
                    .returning(editors.c.id)
                ).scalar_one()
            except IntegrityError as exc:  # a concurrent add of the same name
                raise EditorExistsError(f"an editor named {name!r} already exists") from exc
        return Editor(id=new_id, name=name, created_at=now, last_sign_in=None, email=email)

    def set_email(self, name: str, email: str | None) -> bool:
        """Set (or with None, clear) an editor's address. False when there is no such editor."""
        with write(self.engine) as conn:
            editor_id = _editor_id(conn, name)
            if editor_id is None:
                return False
            conn.execute(update(editors).where(editors.c.id == editor_id).values(email=email))
        return True

    def set_password_hash(
        self, name: str, password_hash: str, *, end_sessions: bool = True
    ) -> bool:
        """Replace an editor's hash and (for a new password) end their sessions;
        a rehash with stronger parameters keeps them. False when there is no such editor."""
        with write(self.engine) as conn:
            editor_id = _editor_id(conn, name)
            if editor_id is None:
                return False
            conn.execute(
                update(editors).where(editors.c.id == editor_id).values(password_hash=password_hash)
            )
            if end_sessions:
                conn.execute(delete(web_sessions).where(web_sessions.c.editor_id == editor_id))
        return True

    def remove(self, name: str) -> bool:
        """Remove an editor and end their sessions. False when there was none."""
        with write(self.engine) as conn:
            editor_id = _editor_id(conn, name)
            if editor_id is None:
                return False
            conn.execute(delete(web_sessions).where(web_sessions.c.editor_id == editor_id))
            conn.execute(delete(editors).where(editors.c.id == editor_id))
        return True

    def list(self) -> list[Editor]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(
                    editors.c.id,
                    editors.c.name,
                    editors.c.created_at,
                    editors.c.last_sign_in,
                    editors.c.email,
                ).order_by(func.lower(editors.c.name))
            ).all()
        return [
            Editor(
                id=r.id,
                name=r.name,
                created_at=r.created_at,
                last_sign_in=r.last_sign_in,
                email=r.email,
            )
            for r in rows
        ]

    def credentials(self, name: str) -> EditorCredentials | None:
        with read(self.engine) as conn:
            editor_id = _editor_id(conn, name)
            if editor_id is None:
                return None
            row = conn.execute(
                select(editors.c.id, editors.c.name, editors.c.password_hash).where(
                    editors.c.id == editor_id
                )
            ).one()
        return EditorCredentials(id=row.id, name=row.name, password_hash=row.password_hash)

    # --- sessions -------------------------------------------------------------

    def start_session(
        self, editor_id: int, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        """Record a new session and the sign-in; expired sessions are swept here."""
        with write(self.engine) as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
            conn.execute(
                web_sessions.insert().values(
                    id=token_hash, editor_id=editor_id, created_at=now, expires_at=expires_at
                )
            )
            conn.execute(update(editors).where(editors.c.id == editor_id).values(last_sign_in=now))

    def session(self, token_hash: str, now: datetime) -> WebSession | None:
        """The live session with this token hash (None: unknown, expired, or its
        editor removed)."""
        with read(self.engine) as conn:
            row = conn.execute(
                select(
                    editors.c.id,
                    editors.c.name,
                    editors.c.created_at,
                    editors.c.last_sign_in,
                    web_sessions.c.created_at.label("started"),
                    web_sessions.c.expires_at,
                )
                .select_from(web_sessions.join(editors, editors.c.id == web_sessions.c.editor_id))
                .where(web_sessions.c.id == token_hash, web_sessions.c.expires_at > now)
            ).first()
        if row is None:
            return None
        editor = Editor(
            id=row.id, name=row.name, created_at=row.created_at, last_sign_in=row.last_sign_in
        )
        return WebSession(editor=editor, started=row.started, expires_at=row.expires_at)

    def extend_session(self, token_hash: str, expires_at: datetime) -> None:
        with write(self.engine) as conn:
            conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id == token_hash)
                .values(expires_at=expires_at)
            )

    def end_session(self, token_hash: str) -> None:
        with write(self.engine) as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.id == token_hash))


def _editor_id(conn: Connection, name: str) -> int | None:
    """The id of the editor called ``name`` (names compare without regard to case).

    Compared here, not with SQL lower(): SQLite's lower() folds only ASCII, so
    "Élodie" would neither find "Élodie" nor stop "élodie" being added beside
    her. The editors are a handful of rows."""
    wanted = name_key(name)
    for row in conn.execute(select(editors.c.id, editors.c.name)):
        if name_key(row.name) == wanted:
            return int(row.id)
    return None


def name_key(name: str) -> str:
    """An editor's name as it is matched (NFC, trimmed, any case): "José" typed
    decomposed is the same editor. Sign-in's limits count by it too."""
    return unicodedata.normalize("NFC", name).strip().casefold()


class SecretRepository:
    """Secrets the app makes for itself (the web session key when
    ROUNDUP_WEB_SECRET_KEY is unset). Never printed or logged."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_or_create(self, name: str, make: str, now: datetime) -> str:
        """The stored secret ``name``; stores ``make`` first when there is none.

        Two processes starting at once both end up with the same value: the
        insert does nothing on conflict and both then read what won.
        """
        with write(self.engine) as conn:
            conn.execute(
                upsert(conn, app_secrets)
                .values(name=name, value=make, created_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            value: str = conn.execute(
                select(app_secrets.c.value).where(app_secrets.c.name == name)
            ).scalar_one()
        return value
