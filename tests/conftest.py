"""Shared fixtures: databases (SQLite and PostgreSQL), config files, the corpus, the web app.

Storage tests take the ``db_url`` fixture, which runs them twice: on a fresh
SQLite file and on a fresh schema of the PostgreSQL server at
127.0.0.1:5432 (override with ROUNDUP_TEST_POSTGRES_URL). Where no server is
reachable the PostgreSQL half skips and says why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from roundup_bot.storage import Storage, open_storage

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from helpers.web import Site

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
PG_URL = os.environ.get(
    "ROUNDUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

#: Under CI (``CI=true``, as .ci/run is run) a missing PostgreSQL server, browser or
#: corpus fails the run instead of skipping: a green CI must mean those tests ran.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_pg_problem: str | None = None
_pg_checked = False


def postgres_problem() -> str | None:
    """None when the PostgreSQL test server answers, else why not (checked once)."""
    global _pg_checked, _pg_problem
    if not _pg_checked:
        _pg_checked = True
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as exc:  # any failure means "not available here"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _pg_problem = f"no PostgreSQL server reachable at {_redacted(PG_URL)}: {first}"
    return _pg_problem


def missing(reason: str, *, module_level: bool = False) -> NoReturn:
    """Skip for want of a server, browser or corpus; under CI, fail instead."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run these tests: see .ci/run)", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'roundup.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty schema on the PostgreSQL test server, dropped afterwards."""
    problem = postgres_problem()
    if problem:
        missing(problem)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    store = open_storage(db_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def corpus() -> Path:
    """The shared feed/X corpus; tests that need it skip cleanly without it."""
    if not CORPUS.is_dir():
        missing(f"the shared corpus is not at {CORPUS} (it sits beside the checkout)")
    return CORPUS


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The web app on a fresh SQLite database, with an editor and a draft (helpers/web.py)."""
    from helpers.web import make_site

    made = make_site(tmp_path)
    yield made
    made.close()


@pytest.fixture
def client(site: Site) -> FlaskClient:
    """A browser signed in to ``site`` as its editor."""
    from helpers.web import sign_in

    signed_in = site.client()
    sign_in(signed_in)
    return signed_in


def write_config(directory: Path, body: str) -> Path:
    path = directory / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path
