"""Fuzzing canonical_url and without_credentials (issue 10, point 11).

Every link from a feed, a post or a form goes through canonical_url: whatever
text it is given, it returns a URL or raises InvalidURL, never anything else;
its result is its own canonical form (idempotent), and never carries a user
name or password. without_credentials never raises and leaves no userinfo.

URLs are built from parts that real and hostile links have (odd schemes,
userinfo with ``@`` and ``:`` in it, international, numeric and bracketed hosts,
ports out of range, percent-escapes, tracking parameters, control characters),
besides plain random text. Hypothesis runs a fixed number of examples,
derandomized, with no example database, so every run tries the same cases.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from roundup_bot.core.curation import InvalidURL, canonical_url, without_credentials

FUZZ = settings(
    max_examples=500,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Characters links are made of, the ones that delimit their parts, and trouble.
URL_CHARS = st.one_of(
    st.sampled_from(list("abcXYZ019-._~%/?#[]@:!$&'()*+,;= \t\n\\\"<>^`{|}")),
    st.sampled_from(["%41", "%2F", "%40", "%3A", "%00", "%zz", "%", "ü", "€", "\u0130", "\u2100"]),
    # Control characters are refused outright; plain random text (URLS) brings them.
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cf")),
)
TEXT = st.lists(URL_CHARS, max_size=10).map("".join)
#: Mostly what links usually have, sometimes anything: most built URLs then get
#: past the first checks, and the odd part lands in every position.
WORD = st.one_of(
    st.sampled_from(["", "a", "post-1", "2026", "%C3%BC", "~jo", "index.html", "A_B", "ü"]),
    st.sampled_from(["", "a", "post-1", "2026", "%41", ":", "@", "a=b", "%", "[", "]", "\\"]),
    TEXT,
)


def mostly(common: st.SearchStrategy[str], rare: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``common`` three times in four."""
    return st.one_of(common, common, common, rare)


SCHEMES = mostly(
    st.sampled_from(["http://", "https://"]),
    st.sampled_from(
        [
            *("HTTP://", "hTTpS://", "http:", "http:/", "http:\\\\", "//", "ftp://"),
            *("javascript:", "data:", "mailto:", " https://", ""),
        ]
    ),
)
USERINFO = st.one_of(
    st.just(""),
    st.builds(lambda user, password: f"{user}:{password}@", WORD, WORD),
    st.builds(lambda user: f"{user}@", WORD),
    st.sampled_from(["reader:s3cret@", "a:b@c@", ":@", "@", "user:p%40ss@", "u:p@@"]),
)
HOSTS = mostly(
    st.lists(
        st.sampled_from(["a", "b-c", "Z9", "gov", "uk", "-x", "x-", "1", "bücher"]),
        min_size=1,
        max_size=4,
    ).map(".".join),
    st.one_of(
        st.sampled_from(
            [
                *("xn--bcher-kva.example", "EXAMPLE.org", "127.0.0.1", "0x7f.1", "[::1]"),
                *("[2001:db8::1]", "[::ffff:10.0.0.1]", "[bad", "bad]", "a..b", ".", ""),
                *("ex%41mple.org", "exa mple.org", "www.example.gov.uk", "xn--", "ü" * 70),
            ]
        ),
        TEXT,
    ),
)
PORTS = st.one_of(
    st.just(""),
    st.integers(-1, 70_000).map(lambda n: f":{n}"),
    st.sampled_from([":", ":80", ":443", ":0", ":00080", ":+1", ": 1"]),
)
PATHS = st.lists(WORD, max_size=4).map(lambda segments: "/" + "/".join(segments))
PARAMS = st.one_of(
    st.sampled_from(["utm_source", "UTM_Campaign", "fbclid", "gclid", "id", "p", "mc_cid", "_ga"]),
    WORD,
)
QUERIES = st.one_of(
    st.just(""),
    st.lists(st.tuples(PARAMS, WORD), max_size=4).map(
        lambda pairs: "?" + "&".join(f"{k}={v}" for k, v in pairs)
    ),
    WORD.map(lambda text: "?" + text),
)
FRAGMENTS = st.one_of(st.just(""), WORD.map(lambda text: "#" + text))
BUILT = st.builds(
    lambda *parts: "".join(parts), SCHEMES, USERINFO, HOSTS, PORTS, PATHS, QUERIES, FRAGMENTS
)
#: Links a feed would really carry, userinfo and all (most of them are canonical).
LINKS = st.builds(
    lambda *parts: "".join(parts),
    st.sampled_from(["http://", "https://", "HTTPS://"]),
    USERINFO,
    st.lists(
        st.sampled_from(["a", "b-c", "gov", "uk", "bücher", "WWW", "1"]), min_size=1, max_size=4
    ).map(".".join),
    st.one_of(st.just(""), st.integers(1, 65_535).map(lambda n: f":{n}")),
    PATHS,
    QUERIES,
    FRAGMENTS,
)
URLS = st.one_of(LINKS, BUILT, st.text(max_size=60))


def assert_no_credentials(url: str) -> None:
    parts = urlsplit(url)
    assert "@" not in parts.netloc, url
    assert parts.username is None
    assert parts.password is None


@FUZZ
@given(URLS)
def test_canonical_url_is_idempotent_never_raises_and_never_keeps_credentials(url: str) -> None:
    try:
        canonical = canonical_url(url)
    except InvalidURL:
        event("refused")
        return
    event("canonical")
    assert canonical_url(canonical) == canonical
    assert_no_credentials(canonical)
    assert canonical.startswith(("http://", "https://"))


@FUZZ
@given(URLS)
def test_without_credentials_never_raises_and_leaves_no_userinfo(url: str) -> None:
    cleaned = without_credentials(url)
    event("credentials removed" if cleaned != url else "unchanged")
    assert without_credentials(cleaned) == cleaned
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return  # not a URL urlsplit can read: nothing reads userinfo from it either
    assert "@" not in parts.netloc, cleaned
    if "@" not in url:
        assert cleaned == url
