"""Editors, web sessions and generated secrets in storage, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roundup_bot.core.errors import EditorExistsError
from roundup_bot.storage import Storage

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_editors_are_unique_without_regard_to_case_and_listed_by_name(storage: Storage) -> None:
    storage.editors.add("Bob", "$argon2id$hash-b", NOW)
    storage.editors.add("ann", "$argon2id$hash-a", NOW)
    with pytest.raises(EditorExistsError):
        storage.editors.add("BOB", "$argon2id$other", NOW)
    assert [e.name for e in storage.editors.list()] == ["ann", "Bob"]
    found = storage.editors.credentials("bob")
    assert found is not None
    assert (found.name, found.password_hash) == ("Bob", "$argon2id$hash-b")
    assert storage.editors.credentials("carol") is None


def test_names_beyond_ascii_compare_without_regard_to_case_too(storage: Storage) -> None:
    # SQLite's lower() folds only ASCII: "Élodie" was neither found nor kept unique.
    elodie = storage.editors.add("Élodie Dupré", "$argon2id$hash-e", NOW)
    with pytest.raises(EditorExistsError):
        storage.editors.add("élodie dupré", "$argon2id$other", NOW)
    for spelling in ("Élodie Dupré", "ÉLODIE DUPRÉ", "E\u0301lodie Dupre\u0301"):
        found = storage.editors.credentials(spelling)
        assert found is not None, spelling
        assert found.id == elodie.id
    assert storage.editors.remove("élodie dupré")
    assert storage.editors.list() == []


def test_sessions_end_on_sign_out_on_expiry_on_removal_and_on_a_new_password(
    storage: Storage,
) -> None:
    ann = storage.editors.add("Ann", "$argon2id$hash", NOW)
    storage.editors.start_session(ann.id, "a" * 64, NOW, NOW + timedelta(hours=12))
    live = storage.editors.session("a" * 64, NOW + timedelta(hours=1))
    assert live is not None
    assert live.editor.name == "Ann"
    assert live.editor.last_sign_in == NOW
    assert storage.editors.session("a" * 64, NOW + timedelta(hours=13)) is None
    storage.editors.extend_session("a" * 64, NOW + timedelta(hours=20))
    assert storage.editors.session("a" * 64, NOW + timedelta(hours=13)) is not None
    storage.editors.end_session("a" * 64)
    assert storage.editors.session("a" * 64, NOW) is None

    storage.editors.start_session(ann.id, "b" * 64, NOW, NOW + timedelta(hours=12))
    assert storage.editors.set_password_hash("ann", "$argon2id$rehashed", end_sessions=False)
    assert storage.editors.session("b" * 64, NOW) is not None
    assert storage.editors.set_password_hash("ann", "$argon2id$new")
    assert storage.editors.session("b" * 64, NOW) is None

    storage.editors.start_session(ann.id, "c" * 64, NOW, NOW + timedelta(hours=12))
    assert storage.editors.remove("ANN")
    assert storage.editors.session("c" * 64, NOW) is None
    assert not storage.editors.remove("Ann")


def test_a_generated_secret_is_made_once_and_kept(storage: Storage) -> None:
    first = storage.secrets.get_or_create("web_session_key", "made-first", NOW)
    second = storage.secrets.get_or_create("web_session_key", "made-later", NOW)
    assert first == second == "made-first"
