"""The WordPress REST adapter over real HTTP on 127.0.0.1: finding the REST root,
never sending credentials where they must not go, deadlines and size limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import pytest
from helpers.fake_wordpress import APP_PASSWORD, LOGIN, FakeWordPress
from helpers.server import LocalServer, Reply, gzip_bomb

from roundup_bot.adapters.wordpress import Credentials, WordPressApi, WordPressPolicy
from roundup_bot.core.errors import WordPressBadAnswer, WordPressError

T = TypeVar("T")
BASIC = Credentials("application-password", LOGIN, APP_PASSWORD)


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())


@pytest.fixture
def wp() -> Iterator[FakeWordPress]:
    with FakeWordPress() as fake:
        yield fake


def api(site: str, *, api_url: str | None = None, **policy: float) -> WordPressApi:
    return WordPressApi(site, BASIC, WordPressPolicy(**policy), api_url=api_url)  # type: ignore[arg-type]


def test_the_rest_root_is_where_the_site_says(wp: FakeWordPress) -> None:
    async def base() -> str:
        async with api(wp.url) as client:
            return await client.base()

    assert run(base()) == f"{wp.url}/wp-json/wp/v2/"
    asked = wp.requests()
    assert asked == []  # finding the root sends nothing to the API, and no credentials
    wp.advertise = False
    assert run(base()) == f"{wp.url}/wp-json/wp/v2/"  # the usual place when it does not say


def test_credentials_never_go_over_plain_http_to_another_machine(wp: FakeWordPress) -> None:
    wp.advertised_root = "http://blog.example.org/wp-json/"

    async def me() -> object:
        async with api(wp.url) as client:
            return await client.me()

    with pytest.raises(
        WordPressError, match="refusing to send the WordPress credentials over plain"
    ):
        run(me())


def test_a_redirect_is_never_followed_with_credentials() -> None:
    with LocalServer() as server:
        server.route("/wp-json/wp/v2/users/me", Reply.redirect(301, "https://elsewhere.example/"))

        async def me() -> object:
            async with api(server.url(""), api_url=server.url("/wp-json/")) as client:
                return await client.me()

        with pytest.raises(WordPressError, match=r"redirect .* set \[wordpress\] site_url"):
            run(me())
        assert len(server.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, {"Content-Type": "application/json"}, json.dumps(["x" * 5000]).encode()),
        Reply(
            200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip_bomb(10**7)
        ),
    ],
    ids=["too-big", "gzip-bomb"],
)
def test_an_answer_over_the_size_limit_is_refused(reply: Reply) -> None:
    with LocalServer() as server:
        server.route("/wp-json/wp/v2/users/me", reply)

        async def me() -> object:
            client = api(server.url(""), api_url=server.url("/wp-json/"), max_bytes=1000)
            async with client:
                return await client.me()

        with pytest.raises(WordPressBadAnswer, match="over"):
            run(me())


def test_a_dripping_answer_stops_at_the_deadline() -> None:
    body = json.dumps({"id": 1, "name": "x" * 50}).encode()
    with LocalServer() as server:
        server.route(
            "/wp-json/wp/v2/users/me",
            Reply(
                200,
                {"Content-Length": str(len(body))},
                [body[i : i + 1] for i in range(len(body))],
                chunk_delay=0.2,
            ),
        )

        async def me() -> object:
            client = api(server.url(""), api_url=server.url("/wp-json/"), timeout=0.5)
            async with client:
                return await client.me()

        with pytest.raises(WordPressError, match=r"within 0\.5 s"):
            run(me())


def test_terms_are_found_by_name_or_made(wp: FakeWordPress) -> None:
    async def terms() -> tuple[int, int, int]:
        async with api(wp.url) as client:
            known = await client.term_id("categories", "uncategorised")
            made = await client.term_id("tags", "Local Gov")
            again = await client.term_id("tags", "local gov")
            return known, made, again

    known, made, again = run(terms())
    assert known == 1
    assert made == again
    assert wp.terms["tags"] == {made: "Local Gov"}
