"""The WordPress REST adapter over real HTTP on 127.0.0.1: finding the REST root,
never sending credentials where they must not go, deadlines and size limits."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import pytest
import trustme
from helpers.dns import FakeDns
from helpers.fake_wordpress import APP_PASSWORD, LOGIN, FakeWordPress
from helpers.server import LocalServer, Reply, gzip_bomb

from roundup_bot.adapters.http import HttpFetcher
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
    async def me() -> object:
        async with api(wp.url, api_url="http://blog.example.org/wp-json/") as client:
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


# --- where the password may go ----------------------------------------------------------


def me_at(client: WordPressApi) -> tuple[object, str]:
    async def go() -> tuple[object, str]:
        async with client:
            return await client.me(), await client.base()

    return run(go())


def test_a_rest_root_advertised_on_another_host_never_gets_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeWordPress("127.0.0.2") as blog, FakeWordPress("127.0.0.3") as elsewhere:
        blog.advertised_root = f"{elsewhere.url}/wp-json/"  # the Link header points away
        with caplog.at_level(logging.INFO, logger="roundup_bot.adapters.wordpress"):
            _me, base = me_at(api(blog.url))
        assert base == f"{blog.url}/wp-json/wp/v2/"
        assert elsewhere.requests() == []
        assert [s.route for s in blog.requests()] == ["users/me"]
        assert "another host" in caplog.text
        assert "127.0.0.3" in caplog.text
        assert APP_PASSWORD not in caplog.text


def test_a_redirect_to_another_host_over_plain_http_is_not_trusted() -> None:
    with FakeWordPress("127.0.0.2") as blog, FakeWordPress("127.0.0.3") as elsewhere:
        blog.redirect_to = f"{elsewhere.url}/"  # elsewhere advertises its own root
        _me, base = me_at(api(blog.url))
        assert base == f"{blog.url}/wp-json/wp/v2/"
        assert elsewhere.requests() == []


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_api(site: str, ca: trustme.CA) -> WordPressApi:
    policy = WordPressPolicy()
    verify = ssl.create_default_context()
    ca.configure_trust(verify)
    dns = FakeDns({"blog.example": [["127.0.0.2"]], "www.blog.example": [["127.0.0.3"]]})
    fetcher = HttpFetcher(policy.http(), resolver=dns, verify=verify)
    return WordPressApi(site, BASIC, policy, fetcher=fetcher)


def test_the_root_of_the_host_an_all_https_redirect_ends_at_is_trusted(ca: trustme.CA) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("blog.example", "www.blog.example").configure_cert(tls)
    with (
        FakeWordPress("127.0.0.2", tls=tls, name="blog.example") as bare,
        FakeWordPress("127.0.0.3", tls=tls, name="www.blog.example") as www,
    ):
        bare.redirect_to = f"{www.url}/"  # https://blog.example -> https://www.blog.example
        _me, base = me_at(tls_api(bare.url, ca))
        assert base == f"{www.url}/wp-json/wp/v2/"
        assert [s.route for s in www.requests()] == ["users/me"]
        assert bare.requests() == []


def test_an_https_to_http_hop_while_finding_the_root_is_refused(
    ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("blog.example").configure_cert(tls)
    with (
        FakeWordPress("127.0.0.2", tls=tls, name="blog.example") as blog,
        FakeWordPress("127.0.0.3") as plain,
    ):
        blog.redirect_to = f"{plain.url}/"  # https -> http
        with caplog.at_level(logging.INFO, logger="roundup_bot.adapters.wordpress"):
            _me, base = me_at(tls_api(blog.url, ca))
        assert base == f"{blog.url}/wp-json/wp/v2/"
        assert plain.requests() == []
        assert "plain http" in caplog.text
