"""Editors' accounts: name rules, argon2 password hashes, checking a sign-in.

The CLI (``roundup-bot editor add``) and the sign-in page both go through
:class:`Accounts`, so there is one place where passwords are hashed and one
set of rules for names and passwords. Passwords are hashed with argon2id
(argon2-cffi's defaults, RFC 9106's low-memory profile) and never stored,
logged or shown.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from roundup_bot.core.errors import AccountError
from roundup_bot.storage.editors import Editor, EditorCredentials, EditorRepository

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_NAME = 80
_NAME = re.compile(r"^[\w][\w .'@-]*$")


def clean_name(raw: str) -> str:
    """An editor's name as stored: NFC, trimmed. Raises AccountError when unusable."""
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise AccountError("the name is empty")
    if len(name) > MAX_NAME:
        raise AccountError(f"the name is longer than {MAX_NAME} characters")
    if not _NAME.match(name):
        raise AccountError(
            "a name may use letters, digits, spaces and . ' @ - _ and must start with"
            " a letter or digit"
        )
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters")


class Accounts:
    """Adds, removes and checks editors. ``hasher`` is a seam for tests, which
    pass cheaper argon2 parameters; production uses the library's defaults."""

    def __init__(self, editors: EditorRepository, hasher: PasswordHasher | None = None) -> None:
        self.editors = editors
        self.hasher = hasher or PasswordHasher()
        # Checked against when the name is unknown, so a wrong name takes as long
        # as a wrong password and does not reveal which names exist.
        self._dummy_hash = self.hasher.hash("not a real password, only for timing")

    def add(self, name: str, password: str, now: datetime) -> Editor:
        """Raises AccountError for a bad name or password, EditorExistsError when taken."""
        name = clean_name(name)
        check_password(password)
        return self.editors.add(name, self.hasher.hash(password), now)

    def set_password(self, name: str, password: str) -> bool:
        check_password(password)
        return self.editors.set_password_hash(name.strip(), self.hasher.hash(password))

    def remove(self, name: str) -> bool:
        return self.editors.remove(name.strip())

    def list(self) -> list[Editor]:
        return self.editors.list()

    def verify(self, name: str, password: str) -> EditorCredentials | None:
        """The editor when name and password match, else None. Upgrades an old
        hash to the current parameters on success."""
        name = unicodedata.normalize("NFC", name).strip()
        found = self.editors.credentials(name) if 0 < len(name) <= MAX_NAME else None
        if found is None or len(password) > MAX_PASSWORD:
            self._check(self._dummy_hash, password[:MAX_PASSWORD])
            return None
        if not self._check(found.password_hash, password):
            return None
        try:
            if self.hasher.check_needs_rehash(found.password_hash):
                self.editors.set_password_hash(
                    found.name, self.hasher.hash(password), end_sessions=False
                )
        except InvalidHashError:
            pass
        return found

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
