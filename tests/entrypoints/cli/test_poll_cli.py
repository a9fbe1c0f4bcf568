"""``roundup-bot poll``, ``status`` and ``candidates`` end to end, against local servers.

Every test runs the real entry point (exit statuses and messages included)
with a config file pointing at feeds served from 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import Run, run_cli
from helpers.corpus import embedded_headers
from helpers.server import LocalServer, Reply, SeenRequest, rss
from sqlalchemy import create_engine, text

from roundup_bot import __version__

CANDIDATE_KEYS = {
    "id",
    "url",
    "link",
    "title",
    "author",
    "published",
    "first_seen",
    "summary",
    "sources",
    "suggested_by",
}
#: Every column that holds a copy of, or a link resolved against, a feed's URL.
PASSWORD_FREE_COLUMNS = (
    ("candidates", "link"),
    ("candidate_sources", "entry_id"),
    ("candidate_sources", "url"),
    ("candidate_sources", "name"),
    ("feeds", "site_url"),
)
STATUS_KEYS = {
    "url",
    "name",
    "ok",
    "last_error",
    "consecutive_errors",
    "last_polled",
    "next_due",
}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


class Bot:
    """A config file in a temporary folder, and the CLI run against it."""

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        self.dir = tmp_path
        self.db_url = db_url
        self.path = tmp_path / "config.toml"

    def configure(self, feeds: list[str | dict[str, Any]], **polling: Any) -> Bot:
        lines = [f"[database]\nurl = {json.dumps(self.db_url)}\n", "[polling]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in polling.items()]
        for feed in feeds:
            table = {"url": feed} if isinstance(feed, str) else feed
            lines.append("\n[[feeds]]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self

    def run(self, *args: str, env: dict[str, str] | None = None) -> Run:
        return run_cli(["--config", str(self.path), *args], env)

    def poll(self, *args: str) -> Run:
        result = self.run("poll", "--quiet", *args)
        assert result.code == 0, result
        assert "Traceback" not in result.stderr
        return result

    def candidates(self) -> list[dict[str, Any]]:
        result = self.run("candidates", "--json")
        assert result.code == 0, result
        return list(json.loads(result.stdout))

    def status(self) -> dict[str, dict[str, Any]]:
        result = self.run("status", "--json")
        assert result.code == 0, result
        data = json.loads(result.stdout)
        return {feed["url"]: feed for feed in data["feeds"]}


@pytest.fixture
def bot(tmp_path: Path, sqlite_url: str) -> Bot:
    return Bot(tmp_path, sqlite_url)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def failed_lines(run: Run) -> list[str]:
    return [line for line in run.stdout.splitlines() if line.startswith("FAILED ")]


# --- fetching ---------------------------------------------------------------------------


def test_every_enabled_feed_is_fetched_once_with_our_user_agent(
    bot: Bot, server: LocalServer
) -> None:
    a = server.route("/a.xml", Reply.feed(rss([("https://example.org/a1", "A1")])))
    b = server.route("/b.xml", Reply.feed(rss([("https://example.org/b1", "B1")])))
    off = server.route("/off.xml", Reply.feed(rss([("https://example.org/off", "Off")])))
    bot.configure([a, {"url": b, "name": "Blog B"}, {"url": off, "enabled": False}])
    result = bot.poll()
    assert len(server.requests_to("/a.xml")) == 1
    assert len(server.requests_to("/b.xml")) == 1
    assert server.requests_to("/off.xml") == []
    for request in server.requests:
        assert request.headers["user-agent"].startswith(f"roundup-bot/{__version__}")
    assert "polled 2 feeds: 2 ok" in result.stdout
    assert {c["url"] for c in bot.candidates()} == {
        "https://example.org/a1",
        "https://example.org/b1",
    }


def test_conditional_get_sends_back_the_stored_validators_verbatim(
    bot: Bot, server: LocalServer
) -> None:
    etag = 'W/"feed-v1;opaque=1"'
    modified = "Tue, 17 Nov 2026 08:00:00 GMT"
    body = rss([("https://example.org/p", "P")]).encode()

    def handler(request: SeenRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, {"ETag": etag})
        return Reply.feed(body, ETag=etag, **{"Last-Modified": modified})

    url = server.route("/feed.xml", handler)
    bot.configure([url])
    bot.poll()
    second = bot.poll()
    first_request, second_request = server.requests_to("/feed.xml")
    assert "if-none-match" not in first_request.headers
    assert second_request.headers["if-none-match"] == etag
    assert second_request.headers["if-modified-since"] == modified
    assert "1 ok (1 unchanged)" in second.stdout
    status = bot.status()[url]
    assert status["ok"] is True
    assert status["consecutive_errors"] == 0
    assert len(bot.candidates()) == 1


def test_a_hanging_feed_times_out_and_the_others_still_arrive(
    bot: Bot, server: LocalServer
) -> None:
    hang = server.route("/hang.xml", Reply(hang=True))
    dripping = server.route("/drip.xml", Reply(200, {}, iter([b"<rss>"] * 100), chunk_delay=0.5))
    good = server.route("/good.xml", Reply.feed(rss([("https://example.org/g", "G")])))
    bot.configure([hang, dripping, good], timeout=1)
    result = bot.poll()
    lines = failed_lines(result)
    assert len(lines) == 2
    assert all("1 s" in line or "timed out" in line for line in lines)
    assert [c["url"] for c in bot.candidates()] == ["https://example.org/g"]
    status = bot.status()
    assert status[hang]["ok"] is False
    assert status[hang]["last_error"]
    assert status[good]["ok"] is True


def test_an_oversize_feed_fails_alone(bot: Bot, server: LocalServer) -> None:
    big = server.route("/big.xml", Reply(200, {}, b"<rss>" + b" " * 100_000))
    good = server.route("/good.xml", Reply.feed(rss([("https://example.org/g", "G")])))
    bot.configure([big, good], max_bytes=50_000)
    result = bot.poll()
    [line] = failed_lines(result)
    assert big in line
    assert "limit" in line or "bytes" in line


# --- statuses, backoff ------------------------------------------------------------------


def test_410_marks_the_feed_gone_and_a_plain_poll_leaves_it_alone(
    bot: Bot, server: LocalServer
) -> None:
    gone = server.route("/gone.xml", Reply(410, {}, b"gone"))
    bot.configure([gone])
    bot.poll()
    status = bot.status()[gone]
    assert status["gone"] is True
    assert status["ok"] is False
    assert "410" in status["last_error"]
    bot.poll()
    assert len(server.requests_to("/gone.xml")) == 1  # not asked again
    text = bot.run("status")
    assert "GONE" in text.stdout
    bot.poll("--force")
    assert len(server.requests_to("/gone.xml")) == 2


@pytest.mark.parametrize("status_code", [429, 503])
def test_retry_after_is_honoured(bot: Bot, server: LocalServer, status_code: int) -> None:
    url = server.route("/busy.xml", Reply(status_code, {"Retry-After": "7200"}))
    bot.configure([url])
    bot.poll()
    status = bot.status()[url]
    assert when(status["next_due"]) - when(status["last_polled"]) >= timedelta(seconds=7200)
    bot.poll()
    assert len(server.requests_to("/busy.xml")) == 1  # still waiting, as asked


def test_failing_feeds_back_off_exponentially_and_recover(bot: Bot, server: LocalServer) -> None:
    state = {"fail": True}

    def handler(_request: SeenRequest) -> Reply:
        if state["fail"]:
            return Reply(500, {}, b"oops")
        return Reply.feed(rss([("https://example.org/ok", "OK")]))

    url = server.route("/flaky.xml", handler)
    bot.configure([url], interval="2h", max_backoff="2h")
    delays = []
    for attempt in range(1, 5):
        run = bot.poll("--force") if attempt > 1 else bot.poll()
        status = bot.status()[url]
        assert status["consecutive_errors"] == attempt
        delay = when(status["next_due"]) - when(status["last_polled"])
        delays.append(delay.total_seconds())
        assert "HTTP 500" in failed_lines(run)[0]
    assert delays == [900, 1800, 3600, 7200]  # the last one capped at max_backoff
    bot.poll()  # backing off: a plain poll skips it
    assert len(server.requests_to("/flaky.xml")) == 4
    state["fail"] = False
    bot.poll("--force")
    status = bot.status()[url]
    assert status["ok"] is True
    assert status["consecutive_errors"] == 0
    assert status["last_error"] is None


@pytest.mark.parametrize(
    ("reply", "expect"),
    [
        (Reply(500, {}, b"boom"), "HTTP 500"),
        (Reply(502, {}, b"bad gateway"), "HTTP 502"),
        (Reply(404, {}, b"missing"), "HTTP 404"),
        (Reply(403, {}, b"no"), "HTTP 403"),
        (
            Reply(
                200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html><body>Hi</body></html>"
            ),
            "HTML",
        ),
        (Reply(200, {"Content-Type": "text/xml"}, b"<rss><channel><item><title>"), "feed"),
        (Reply(200, {"Content-Type": "text/plain"}, b""), "feed"),
    ],
)
def test_a_broken_feed_is_one_line_in_the_summary(
    bot: Bot, server: LocalServer, reply: Reply, expect: str
) -> None:
    bad = server.route("/bad.xml", reply)
    good = server.route("/good.xml", Reply.feed(rss([("https://example.org/g", "G")])))
    bot.configure([bad, good])
    result = bot.poll()
    assert result.code == 0
    [line] = failed_lines(result)
    assert line.startswith(f"FAILED {bad}: ")
    assert expect in line
    assert "1 ok" in result.stdout
    assert "1 failed" in result.stdout
    assert len(bot.candidates()) == 1


def test_error_text_from_a_server_cannot_break_the_summary_line(
    bot: Bot, server: LocalServer
) -> None:
    url = server.route("/evil.xml", Reply.redirect(302, "http://exa mple.invalid/\r\nFAKE"))
    bot.configure([url])
    result = bot.poll()
    assert len(failed_lines(result)) == 1
    assert "\x1b" not in result.stdout


def test_a_broken_feed_that_still_has_entries_is_kept_with_a_warning(
    bot: Bot, server: LocalServer
) -> None:
    doc = rss([("https://example.org/1", "One"), ("https://example.org/2", "Fish & chips")])
    url = server.route("/broken.xml", Reply.feed(doc.replace("</channel></rss>", "")))
    bot.configure([url])
    result = bot.poll()
    assert failed_lines(result) == []
    assert "broken but usable" in result.stderr
    assert {c["title"] for c in bot.candidates()} == {"One", "Fish & chips"}


# --- redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 308])
def test_a_permanent_redirect_is_recorded_and_followed_next_time(
    bot: Bot, server: LocalServer, code: int
) -> None:
    old = server.route("/old.xml", Reply.redirect(code, "/new.xml"))
    new = server.route("/new.xml", Reply.feed(rss([("https://example.org/n", "N")])))
    bot.configure([old])
    bot.poll()
    status = bot.status()[old]
    assert status["moved_to"] == new
    assert f"moved permanently to {new}" in bot.run("status").stdout
    bot.poll()
    assert len(server.requests_to("/old.xml")) == 1
    assert len(server.requests_to("/new.xml")) == 2


@pytest.mark.parametrize("code", [302, 307])
def test_a_temporary_redirect_is_not_recorded(bot: Bot, server: LocalServer, code: int) -> None:
    old = server.route("/old.xml", Reply.redirect(code, "/new.xml"))
    server.route("/new.xml", Reply.feed(rss([("https://example.org/n", "N")])))
    bot.configure([old])
    bot.poll()
    assert bot.status()[old]["moved_to"] is None
    bot.poll()
    assert len(server.requests_to("/old.xml")) == 2


def test_a_redirect_loop_fails_the_feed(bot: Bot, server: LocalServer) -> None:
    a = server.route("/a.xml", Reply.redirect(301, "/b.xml"))
    server.route("/b.xml", Reply.redirect(301, "/a.xml"))
    bot.configure([a])
    [line] = failed_lines(bot.poll())
    assert "redirect" in line
    assert bot.status()[a]["moved_to"] is None


# --- candidates --------------------------------------------------------------------------


def test_candidates_are_keyed_by_canonical_url_across_feeds(bot: Bot, server: LocalServer) -> None:
    a = server.route(
        "/a.xml",
        Reply.feed(
            rss(
                [
                    ("https://Example.org:443/story?utm_source=a&id=1#top", "Story"),
                    ("/local/post", "Relative"),
                    ("javascript:alert(1)", "Evil"),
                ]
            )
        ),
    )
    b = server.route(
        "/b.xml", Reply.feed(rss([("https://example.org/story?id=1&fbclid=xyz", "Story")]))
    )
    bot.configure([{"url": a, "name": "Blog A"}, {"url": b, "name": "Blog B"}])
    bot.poll()
    found = {c["url"]: c for c in bot.candidates()}
    assert set(found) == {"https://example.org/story?id=1", server.url("/local/post")}
    story = found["https://example.org/story?id=1"]
    assert set(story) >= CANDIDATE_KEYS
    assert {(s["kind"], s["name"], s["url"]) for s in story["sources"]} == {
        ("feed", "Blog A", a),
        ("feed", "Blog B", b),
    }
    assert story["suggested_by"] == []
    assert story["link"].startswith("https://")
    assert story["published"] == "2026-11-18T09:00:00Z"
    when(story["first_seen"])  # ISO 8601
    assert story["summary"] == "Summary text"
    bot.poll("--force")
    assert len(bot.candidates()) == 2  # re-polling never duplicates


def test_candidates_name_a_bad_date_option_and_an_empty_period(
    bot: Bot, server: LocalServer
) -> None:
    feed = server.route("/a.xml", Reply.feed(rss([("https://example.org/a1", "A1")])))
    bot.configure([feed])
    bot.poll()
    bad = bot.run("candidates", "--until", "next tuesday")
    assert bad.code == 2
    assert "'--until'" in bad.stderr
    assert "next tuesday" in bad.stderr
    empty = bot.run("candidates", "--since", "2026-11-30", "--until", "2026-11-01")
    assert empty.code == 0
    assert empty.stdout.strip() == "no candidates in that period"


def test_a_changed_entry_updates_its_candidate(bot: Bot, server: LocalServer) -> None:
    state = {"title": "First title"}

    def handler(_request: SeenRequest) -> Reply:
        return Reply.feed(rss([("https://example.org/p", state["title"])]))

    url = server.route("/feed.xml", handler)
    bot.configure([url])
    bot.poll()
    [before] = bot.candidates()
    state["title"] = "Corrected &lt;b&gt;title&lt;/b&gt; &amp; more"
    result = bot.poll()
    assert "1 updated" in result.stdout
    [after] = bot.candidates()
    assert after["id"] == before["id"]
    assert after["title"] == "Corrected title & more"
    assert after["first_seen"] == before["first_seen"]


def test_hostile_titles_are_stored_as_plain_text(bot: Bot, server: LocalServer) -> None:
    doc = rss(
        [
            (
                "https://example.org/x",
                "<![CDATA[<script>alert(1)</script>Council <em>news</em>]]>",
            )
        ]
    )
    url = server.route("/feed.xml", Reply.feed(doc))
    bot.configure([url])
    bot.poll()
    [candidate] = bot.candidates()
    assert candidate["title"] == "Council news"


def test_a_body_naming_a_local_file_reads_nothing_local(
    bot: Bot, server: LocalServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_text(rss([("https://secret.example.org/x", "Secret")]), encoding="utf-8")
    url = server.route("/feed.xml", Reply(200, {"Content-Type": "text/xml"}, str(secret).encode()))
    bot.configure([url])
    result = bot.poll()
    assert len(failed_lines(result)) == 1
    assert bot.candidates() == []


def test_status_json_lists_every_feed(bot: Bot, server: LocalServer) -> None:
    good = server.route("/good.xml", Reply.feed(rss([("https://example.org/g", "G")])))
    bad = server.route("/bad.xml", Reply(500, {}, b""))
    bot.configure([{"url": good, "name": "Good blog"}, bad])
    before = bot.status()
    assert before[good]["ok"] is None
    assert before[good]["last_polled"] is None
    bot.poll()
    status = bot.status()
    assert set(status) == {good, bad}
    for feed in status.values():
        assert set(feed) >= STATUS_KEYS
        when(feed["last_polled"])
        when(feed["next_due"])
    assert status[good]["name"] == "Good blog"
    assert status[good]["ok"] is True
    assert status[good]["last_error"] is None
    assert status[bad]["ok"] is False
    assert status[bad]["consecutive_errors"] == 1
    assert "HTTP 500" in status[bad]["last_error"]


# --- character sets, corpus documents served over HTTP ------------------------------------


def test_latin1_bytes_served_as_utf8_still_give_readable_titles(
    bot: Bot, server: LocalServer
) -> None:
    doc = rss([("https://example.org/cafe", "Café crème")]).encode("latin-1")
    url = server.route(
        "/feed.xml", Reply(200, {"Content-Type": "application/rss+xml; charset=utf-8"}, doc)
    )
    bot.configure([url])
    bot.poll()
    assert [c["title"] for c in bot.candidates()] == ["Café crème"]


def test_the_charset_in_the_http_header_reaches_the_parser(bot: Bot, server: LocalServer) -> None:
    """KOI8-R without a declaration: only the HTTP header can tell; a guess would be mojibake."""
    doc = rss([("https://example.org/news", "Новости совета")])
    doc = doc.replace(' encoding="utf-8"', "").replace("Test blog", "Блог").encode("koi8-r")
    url = server.route("/feed.xml", Reply(200, {"Content-Type": "text/xml; charset=KOI8-R"}, doc))
    bot.configure([url])
    bot.poll()
    assert [c["title"] for c in bot.candidates()] == ["Новости совета"]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("miniflux-testdata/parser/encoding_ISO-8859-1.xml", "application/rss+xml"),
        ("miniflux-testdata/parser/no_encoding_ISO-8859-1.xml", "text/xml; charset=ISO-8859-1"),
        ("miniflux-testdata/parser/encoding_WINDOWS-1251.xml", "text/xml"),
        ("miniflux-testdata/encoding/utf8-incorrect-prolog.xml", "text/xml; charset=utf-8"),
        ("miniflux-testdata/encoding/invalid-prolog.xml", "text/xml"),
        ("feedparser-encoding/utf-16le-bom.xml", None),
        ("feedparser-encoding/http_text_xml_charset_overrides_encoding.xml", None),
        ("simplepie-testdata/feed-utf16be.xml", "application/rss+xml"),
    ],
)
def test_corpus_documents_served_over_http(
    bot: Bot, server: LocalServer, corpus: Path, name: str, content_type: str | None
) -> None:
    data = (corpus / "feeds" / name).read_bytes()
    headers = embedded_headers(data)
    headers.pop("content-location", None)
    if content_type:
        headers["content-type"] = content_type
    url = server.route("/feed.xml", Reply(200, headers, data))
    good = server.route("/good.xml", Reply.feed(rss([("https://example.org/g", "G")])))
    bot.configure([url, good])
    result = bot.poll()
    assert "polled 2 feeds" in result.stdout
    assert failed_lines(result) == []
    for candidate in bot.candidates():
        assert "\ufffd" not in (candidate["title"] or "")


# --- exit statuses -------------------------------------------------------------------------


def test_an_unreachable_database_exits_1_without_a_traceback(tmp_path: Path) -> None:
    bot = Bot(tmp_path, f"sqlite:///{tmp_path}/no/such/dir/roundup.db")
    bot.configure(["https://example.org/feed"])
    result = bot.run("poll")
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_postgresql_exits_1(tmp_path: Path) -> None:
    bot = Bot(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    bot.configure(["https://example.org/feed"])
    result = bot.run("poll")
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr


def test_a_bad_config_exits_2_naming_file_and_key(bot: Bot) -> None:
    bot.configure(["https://example.org/feed"], timeout="soon")
    result = bot.run("poll")
    assert result.code == 2
    [line] = result.stderr.strip().splitlines()
    assert str(bot.path) in line
    assert "polling.timeout" in line
    assert "Traceback" not in result.stderr


def test_a_run_where_every_feed_fails_still_exits_0(bot: Bot, server: LocalServer) -> None:
    bot.configure([server.route("/x.xml", Reply(500, {}, b"")), server.url("/missing.xml")])
    result = bot.poll()
    assert len(failed_lines(result)) == 2


def test_the_same_article_on_postgresql(
    tmp_path: Path, server: LocalServer, postgres_url: str
) -> None:
    bot = Bot(tmp_path, postgres_url)
    a = server.route("/a.xml", Reply.feed(rss([("https://example.org/s?utm_medium=x", "S")])))
    b = server.route("/b.xml", Reply.feed(rss([("https://EXAMPLE.org/s#c", "S")])))
    nul = server.route("/nul.xml", Reply.feed(rss([("https://example.org/nul", "Nul&#0;char")])))
    bot.configure([a, b, nul])
    result = bot.poll()
    bot.poll("--force")
    found = {c["url"]: c for c in bot.candidates()}
    assert len(found["https://example.org/s"]["sources"]) == 2
    assert len(failed_lines(result)) <= 1


def test_a_304_without_validators_keeps_the_stored_ones(bot: Bot, server: LocalServer) -> None:
    etag = '"v1"'
    modified = "Tue, 17 Nov 2026 08:00:00 GMT"
    body = rss([("https://example.org/p", "P")]).encode()

    def handler(request: SeenRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, {})  # many servers send no validators with a 304
        return Reply.feed(body, ETag=etag, **{"Last-Modified": modified})

    url = server.route("/feed.xml", handler)
    bot.configure([url])
    bot.poll()
    bot.poll()
    third = bot.poll()
    assert "1 unchanged" in third.stdout
    last = server.requests_to("/feed.xml")[-1]
    assert last.headers["if-none-match"] == etag
    assert last.headers["if-modified-since"] == modified


def test_a_password_in_a_feed_url_is_sent_but_never_printed(bot: Bot, server: LocalServer) -> None:
    server.route("/private.xml", Reply(500, {}, b""))
    url = server.url("/private.xml").replace("http://", "http://reader:s3cret-pass@")
    bot.configure([url])
    result = bot.poll()
    [line] = failed_lines(result)
    assert "s3cret-pass" not in result.stdout + result.stderr
    assert "reader:***@" in line
    [request] = server.requests_to("/private.xml")
    assert request.headers["authorization"].startswith("Basic ")
    for command in (["status"], ["status", "--json"]):
        shown = bot.run(*command)
        assert shown.code == 0, shown
        assert "s3cret-pass" not in shown.stdout + shown.stderr
        assert "reader:***@" in shown.stdout


def test_a_password_in_a_feed_url_never_reaches_candidates(bot: Bot, server: LocalServer) -> None:
    """Links resolved against a private feed's URL (a relative link, a relative
    permalink guid, the site's home page) are stored without its user name and
    password, and so is the feed's own URL on each entry's source; only the feed
    row keeps them, to fetch it."""
    doc = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title></title><link>/</link>'
        "<item><title>Relative</title><link>/posts/1</link>"
        '<guid isPermaLink="true">/posts/1</guid></item>'
        "<item><title>Absolute</title><link>https://example.org/p</link></item>"
        "</channel></rss>"
    )
    server.route("/private.xml", Reply.feed(doc))
    url = server.url("/private.xml").replace("http://", "http://reader:s3cret-pass@")
    bot.configure([url])
    bot.poll()
    public = server.url("/private.xml")
    found = {c["title"]: c for c in bot.candidates()}
    assert found["Relative"]["link"] == server.url("/posts/1")
    assert found["Absolute"]["link"] == "https://example.org/p"
    for candidate in found.values():
        assert [(s["name"], s["url"]) for s in candidate["sources"]] == [(public, public)]
    engine = create_engine(bot.db_url)
    try:
        with engine.connect() as conn:
            stored = [
                conn.execute(text(f"SELECT {column} FROM {table}")).scalars().all()
                for table, column in PASSWORD_FREE_COLUMNS
            ]
            [feed_url] = conn.execute(text("SELECT url FROM feeds")).scalars().all()
    finally:
        engine.dispose()
    assert server.url("/posts/1") in stored[1]  # candidate_sources.entry_id
    assert feed_url == url  # the feed is still fetched with its password
    assert not [value for values in stored for value in values if value and "reader" in value]


def test_feedparser_gets_the_fetched_bytes_and_real_headers_never_a_url(
    bot: Bot, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feedparser

    seen: list[tuple[object, dict[str, str]]] = []
    real_parse = feedparser.parse

    def spy(source: object, *args: Any, **kwargs: Any) -> Any:
        seen.append((source, dict(kwargs.get("response_headers") or {})))
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    doc = rss([("https://example.org/p", "P")]).encode()
    url = server.route(
        "/feed.xml",
        Reply(200, {"Content-Type": "application/rss+xml; charset=utf-8", "X-Served-By": "t"}, doc),
    )
    bot.configure([url])
    bot.poll()
    [(source, headers)] = seen
    assert not isinstance(source, str | bytes)  # a stream of what we fetched
    assert hasattr(source, "read")
    assert headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert headers["x-served-by"] == "t"


def test_a_permanent_redirect_to_a_web_page_is_not_recorded(bot: Bot, server: LocalServer) -> None:
    """A blog that dropped its feed often 301s it to the home page: that is a failure."""
    old = server.route("/feed.xml", Reply.redirect(301, "/"))
    server.route("/", Reply(200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html></html>"))
    bot.configure([old])
    [line] = failed_lines(bot.poll())
    assert "HTML" in line
    assert bot.status()[old]["moved_to"] is None


def test_a_gone_feed_that_comes_back_is_healthy_again(bot: Bot, server: LocalServer) -> None:
    state = {"gone": True}

    def handler(_request: SeenRequest) -> Reply:
        if state["gone"]:
            return Reply(410, {}, b"")
        return Reply.feed(rss([("https://example.org/back", "Back")]))

    url = server.route("/feed.xml", handler)
    bot.configure([url])
    bot.poll()
    assert bot.status()[url]["gone"] is True
    state["gone"] = False
    bot.poll("--force")
    status = bot.status()[url]
    assert status["gone"] is False
    assert status["ok"] is True
    assert [c["title"] for c in bot.candidates()] == ["Back"]


def test_two_feeds_wording_one_article_differently_do_not_flip_it(
    bot: Bot, server: LocalServer
) -> None:
    a = server.route("/a.xml", Reply.feed(rss([("https://example.org/s", "Original title")])))
    bot.configure([{"url": a, "name": "A"}])
    bot.poll()
    b = server.route("/b.xml", Reply.feed(rss([("https://example.org/s", "Aggregator: title")])))
    bot.configure([{"url": a, "name": "A"}, {"url": b, "name": "B"}])
    for _ in range(2):
        result = bot.poll("--force")
        assert "0 updated" in result.stdout
    [candidate] = bot.candidates()
    assert candidate["title"] == "Original title"
    assert {s["name"] for s in candidate["sources"]} == {"A", "B"}
    # When the first feed is dropped from the config, the other one describes it.
    bot.configure([{"url": b, "name": "B"}])
    assert "1 updated" in bot.poll("--force").stdout
    assert bot.candidates()[0]["title"] == "Aggregator: title"


# --- limits on what one document may cost --------------------------------------------------


def dated_rss(count: int, start: datetime) -> str:
    """``count`` entries an hour apart from ``start``, oldest first in the document."""
    items = "".join(
        f"<item><title>Post {i}</title><link>https://example.org/p/{i}</link>"
        f"<pubDate>{(start + timedelta(hours=i)).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>"
        "</item>"
        for i in range(count)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Busy blog</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    )


def test_a_feed_over_max_entries_keeps_the_newest_and_its_status_says_so(
    bot: Bot, server: LocalServer
) -> None:
    """Issue 10: a feed document with 100,000 entries stored them all. Only the
    newest 500 (by date, whatever the document's order) are kept by default."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    url = server.route("/busy.xml", Reply.feed(dated_rss(600, start)))
    bot.configure([url])
    bot.poll()
    found = bot.candidates()
    assert len(found) == 500
    assert {c["title"] for c in found} == {f"Post {i}" for i in range(100, 600)}
    notice = "dropped 100 older entries, kept the newest 500 ([polling] max_entries)"
    assert bot.status()[url]["notice"] == notice
    assert "dropped 100 older entries" in bot.run("status").stdout
    # A smaller document later: nothing is dropped, and the status says nothing more.
    server.route("/busy.xml", Reply.feed(dated_rss(3, start + timedelta(days=60))))
    bot.poll("--force")
    assert bot.status()[url]["notice"] is None


def test_max_entries_is_configurable_and_checked(bot: Bot, server: LocalServer) -> None:
    url = server.route("/busy.xml", Reply.feed(dated_rss(12, datetime(2026, 10, 1, tzinfo=UTC))))
    bot.configure([url], max_entries=5)
    bot.poll()
    assert {c["title"] for c in bot.candidates()} == {f"Post {i}" for i in range(7, 12)}
    assert bot.status()[url]["notice"].startswith("dropped 7 older entries, kept the newest 5 ")
    bot.configure([url], max_entries=0)
    refused = bot.run("poll")
    assert refused.code == 2
    assert "max_entries" in refused.stderr
    assert "Traceback" not in refused.stderr
