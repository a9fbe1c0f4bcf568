"""Config problems are one line naming the file (or variable), the key and the
problem, with exit status 2 and no traceback; OPML in and out; the example config.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import listparser
import pytest
from helpers.cli import Run, run_cli
from helpers.opml import OPML, opml_config

from roundup_bot.config import load_settings

ROOT = Path(__file__).resolve().parent.parent


def run_with(tmp_path: Path, body: str | bytes, env: dict[str, str] | None = None) -> Run:
    path = tmp_path / "config.toml"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body, encoding="utf-8")
    db = f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
    if isinstance(body, str) and "[database]" not in body and "=" in body:
        path.write_text(db + body, encoding="utf-8")
    return run_cli(["--config", str(path), "status", "--json"], env)


def assert_config_error(result: Run, *needles: str) -> str:
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    [line] = lines
    for needle in needles:
        assert needle in line, (needle, line)
    return line


GOOD_FEED = '\n[[feeds]]\nurl = "https://example.org/feed"\n'


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("[polling]\ntimeout = \n", ("TOML syntax error", "line 4")),
        ("[polling]\nfoo = 1\n", ("polling.foo", "unknown key")),
        ("[bogus]\nx = 1\n", ("bogus", "unknown key")),
        ('[polling]\ntimeout = "abc"\n', ("polling.timeout", "wrong type")),
        ("[polling]\nmax_bytes = 0\n", ("polling.max_bytes", "1 or more")),
        ('[polling]\ninterval = "often"\n', ("polling.interval", "duration")),
        ("[polling]\nmax_redirects = 50\n", ("polling.max_redirects", "between 0 and 20")),
        ('[[feeds]]\nname = "No URL"\n', ("feeds[0].url", "required key is missing")),
        ('[[feeds]]\nurl = "ftp://example.org/feed"\n', ("feeds[0].url", "http")),
        ('[[feeds]]\nurl = "https://exa mple.org/feed"\n', ("feeds[0].url", "not a valid URL")),
        ('[[feeds]]\nurl = "https://example.org:99999/"\n', ("feeds[0].url", "not a valid URL")),
        ('[[feeds]]\nurl = "https://example.org/feed"\nweight = "high"\n', ("feeds[0].weight",)),
        (
            GOOD_FEED + GOOD_FEED.replace("/feed", "/other") + GOOD_FEED,
            ("feeds[2].url", "repeats feeds[0]"),
        ),
        ('[roundup]\ntimezone = "' + "x" * 300 + '"\n', ("roundup.timezone", "unknown time zone")),
        ('[[feeds]]\nurl = "' + "x" * 5000 + '"\n', ("feeds[0].url", "is not an http")),
    ],
)
def test_config_file_problems(tmp_path: Path, body: str, needles: tuple[str, ...]) -> None:
    line = assert_config_error(run_with(tmp_path, body), *needles)
    assert str(tmp_path / "config.toml") in line
    assert len(line) < 400


def test_a_config_that_is_not_utf8(tmp_path: Path) -> None:
    assert_config_error(run_with(tmp_path, b"[polling]\nname = '\xff\xfe'\n"), "UTF-8")


def test_a_missing_config_file(tmp_path: Path) -> None:
    result = run_cli(["--config", str(tmp_path / "nope.toml"), "poll"])
    assert_config_error(result, "nope.toml", "not found")


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    result = run_with(tmp_path, GOOD_FEED, {"ROUNDUP_POLLING_TIMEOUT": "abc"})
    assert_config_error(result, "ROUNDUP_POLLING_TIMEOUT", "polling.timeout", "wrong type")


def test_an_unknown_environment_key_names_the_variable(tmp_path: Path) -> None:
    result = run_with(tmp_path, GOOD_FEED, {"ROUNDUP_DATABASE_FOO": "1"})
    assert_config_error(result, "ROUNDUP_DATABASE_FOO", "database.foo", "unknown key")


def test_environment_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[polling]\ntimeout = 20\nper_host = 3\n" + GOOD_FEED, encoding="utf-8")
    settings = load_settings(
        path, {"ROUNDUP_POLLING_TIMEOUT": "1.5", "ROUNDUP_POLLING_MAX_BYTES": "1024"}
    )
    assert settings.polling.timeout == 1.5
    assert settings.polling.max_bytes == 1024
    assert settings.polling.per_host == 3


def test_polling_defaults_match_the_issue() -> None:
    path = ROOT / "config.example.toml"
    polling = load_settings(path, {}).polling
    assert polling.timeout == 20
    assert polling.max_bytes == 10 * 1024 * 1024
    assert polling.max_redirects == 5


def test_the_example_config_loads_and_validates(tmp_path: Path) -> None:
    settings = load_settings(ROOT / "config.example.toml", {})
    assert settings.feeds
    assert all(feed.url.startswith("https://") for feed in settings.feeds)
    # Through the real CLI too, with the database moved out of the checkout and no network.
    db = f"sqlite:///{tmp_path / 'example.db'}"
    result = run_cli(
        ["--config", str(ROOT / "config.example.toml"), "status", "--json"],
        {"ROUNDUP_DATABASE_URL": db},
    )
    assert result.code == 0, result
    urls = {feed["url"] for feed in json.loads(result.stdout)["feeds"]}
    assert urls == {feed.url for feed in settings.feeds}


# --- OPML -----------------------------------------------------------------------------------


def test_an_opml_file_adds_feeds(tmp_path: Path) -> None:
    path = opml_config(tmp_path, OPML)
    result = run_cli(["--config", str(path), "status", "--json"])
    assert result.code == 0, result
    feeds = {f["url"]: f for f in json.loads(result.stdout)["feeds"]}
    assert set(feeds) == {
        "https://example.org/feed",
        "https://a.example.org/feed",
        "https://b.example.org/rss.xml",
    }
    assert feeds["https://a.example.org/feed"]["name"] == "Council A & friends"
    assert feeds["https://example.org/feed"]["name"] == 'Blog <one> & "two"'  # config wins


def test_export_opml_parses_back_to_the_same_feeds(tmp_path: Path) -> None:
    path = opml_config(tmp_path, OPML)
    result = run_cli(["--config", str(path), "feeds", "export-opml"])
    assert result.code == 0, result
    parsed = listparser.parse(result.stdout.encode("utf-8"))
    assert not parsed.bozo
    assert {f.url for f in parsed.feeds} == {
        "https://example.org/feed",
        "https://a.example.org/feed",
        "https://b.example.org/rss.xml",
    }
    titles = {f.url: f.title for f in parsed.feeds}
    assert titles["https://example.org/feed"] == 'Blog <one> & "two"'

    out = tmp_path / "out.opml"
    written = run_cli(["--config", str(path), "feeds", "export-opml", "-o", str(out)])
    assert written.code == 0, written
    assert {f.url for f in listparser.parse(out.read_bytes()).feeds} == set(titles)


def test_export_opml_hides_feed_url_passwords_unless_asked(tmp_path: Path) -> None:
    path = opml_config(tmp_path, None)
    path.write_text(
        path.read_text(encoding="utf-8").replace('[polling]\nopml = "lists/feeds.opml"\n', "")
        + '\n[[feeds]]\nurl = "https://reader:s3cret-pw@intranet.example.org/feed"\n',
        encoding="utf-8",
    )
    result = run_cli(["--config", str(path), "feeds", "export-opml"])
    assert result.code == 0, result
    assert "s3cret-pw" not in result.stdout + result.stderr
    urls = {f.url for f in listparser.parse(result.stdout.encode("utf-8")).feeds}
    assert "https://reader:***@intranet.example.org/feed" in urls
    assert "1 feed URL(s) had a password, written as ***" in result.stderr

    kept = run_cli(["--config", str(path), "feeds", "export-opml", "--with-passwords"])
    assert kept.code == 0, kept
    urls = {f.url for f in listparser.parse(kept.stdout.encode("utf-8")).feeds}
    assert "https://reader:s3cret-pw@intranet.example.org/feed" in urls
    assert "s3cret-pw" not in kept.stderr


def test_export_opml_to_a_folder_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    path = opml_config(tmp_path, OPML)
    out = tmp_path / "no" / "such" / "folder.opml"
    result = run_cli(["--config", str(path), "feeds", "export-opml", "-o", str(out)])
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert str(out) in result.stderr
    assert "No such file or directory" in result.stderr


@pytest.mark.parametrize(
    "opml",
    [
        b"<opml><body><outline xmlUrl='https://a.example.org/feed'",
        b"this is not xml at all",
        b"\x00\xff\xfe garbage",
        b"<html><body>A web page</body></html>",
    ],
)
def test_a_broken_opml_file_is_a_config_error_naming_it(tmp_path: Path, opml: bytes) -> None:
    path = opml_config(tmp_path, opml)
    result = run_cli(["--config", str(path), "status", "--json"])
    assert_config_error(result, "feeds.opml", "polling.opml", str(path))


@pytest.mark.parametrize(
    "url", ["http://exa mple.org/feed", "http://", "https://example.org:99999/feed"]
)
def test_an_opml_outline_with_a_broken_url_is_a_config_error_naming_it(
    tmp_path: Path, url: str
) -> None:
    opml = OPML.replace("https://b.example.org/rss.xml", url)
    result = run_cli(["--config", str(opml_config(tmp_path, opml)), "poll"])
    assert_config_error(result, "feeds.opml", "polling.opml", "Council B", url)


def test_a_missing_opml_file_is_a_config_error(tmp_path: Path) -> None:
    path = opml_config(tmp_path, None)
    result = run_cli(["--config", str(path), "poll"])
    assert_config_error(result, "feeds.opml", "polling.opml")


def test_text_keys_keep_environment_values_that_look_like_numbers(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD_FEED, encoding="utf-8")
    env = {
        "ROUNDUP_TWITTER_USER_ID": "12345",
        "ROUNDUP_TWITTER_USERNAME": "2024",
        "ROUNDUP_SCHEDULE_JITTER": "0",
        "ROUNDUP_POLLING_INTERVAL": "3600",
    }
    settings = load_settings(path, env)
    assert settings.twitter.user_id == "12345"
    assert settings.twitter.username == "2024"
    assert settings.schedule.jitter_seconds == 0
    assert settings.polling.interval_seconds == 3600


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[[feeds]]\nurl = "https://a.example.org/feed"\nweight = nan\n', "feeds[0].weight"),
        ("[polling]\ntimeout = inf\n", "polling.timeout"),
        ("[twitter]\nmax_rate_limit_wait = inf\n", "twitter.max_rate_limit_wait"),
    ],
)
def test_nan_and_infinity_are_not_numbers_here(tmp_path: Path, body: str, key: str) -> None:
    assert_config_error(run_with(tmp_path, body), "config.toml", key, "finite number")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("notaurl", "not a database URL"),
        ("mysql://bob:s3cret@db.example/x", "mysql:// is not supported"),
        ("postgresql://bob:s3cret@db.example/x", "add +psycopg"),
    ],
)
def test_an_unsupported_database_url_is_a_config_error(
    tmp_path: Path, url: str, problem: str
) -> None:
    line = assert_config_error(
        run_with(tmp_path, f"[database]\nurl = {json.dumps(url)}\n"), "database.url", problem
    )
    assert "s3cret" not in line


def test_a_user_id_written_as_a_toml_number_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[twitter]\nuser_id = 783214\n" + GOOD_FEED, encoding="utf-8")
    assert load_settings(path, {}).twitter.user_id == "783214"


def test_the_example_config_documents_every_key() -> None:
    from roundup_bot.config import FeedSettings, Settings

    documented: dict[str, set[str]] = {}
    section = ""
    for line in (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines():
        header = re.match(r"^(?:# One )?\[\[?(\w+)\]\]?", line)  # "# One [[feeds]] table…"
        if header:
            section = header.group(1)
            continue
        key = re.match(r"^#?\s{0,3}(\w+)\s*(=|\(|\s)", line)
        if key:
            documented.setdefault(section, set()).add(key.group(1))
    missing = []
    for name, field in Settings.model_fields.items():
        if name == "path":
            continue
        model: Any = FeedSettings if name == "feeds" else field.annotation
        keys = [f.alias or k for k, f in model.model_fields.items()]  # as written in TOML
        missing += [f"{name}.{k}" for k in keys if k not in documented.get(name, set())]
    assert missing == []


DEEP = 5000


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("[polling]\ntimeout = " + "[" * DEEP + "]" * DEEP + "\n", None),
        (GOOD_FEED + "name = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n", None),
        ("[polling]\ntimeout = " + "[" * 300 + "]" * 300 + "\n", "polling.timeout"),
        (GOOD_FEED + "name = " + "{a = " * 300 + "1" + "}" * 300 + "\n", "feeds[0].name"),
    ],
)
def test_a_toml_nested_thousands_deep_is_a_config_error(
    tmp_path: Path, body: str, key: str | None
) -> None:
    line = assert_config_error(run_with(tmp_path, body), "nested too deeply")
    assert str(tmp_path / "config.toml") in line
    if key:
        assert f": {key}: " in line
    assert len(line) < 300


@pytest.mark.parametrize("depth", [300, DEEP])
def test_an_environment_value_nested_thousands_deep_names_the_variable(
    tmp_path: Path, depth: int
) -> None:
    deep = "[" * depth + "]" * depth
    result = run_with(tmp_path, GOOD_FEED, {"ROUNDUP_POLLING_TIMEOUT": deep})
    line = assert_config_error(
        result, "ROUNDUP_POLLING_TIMEOUT", "polling.timeout", "nested too deeply"
    )
    assert len(line) < 300


def test_a_wrong_value_is_shown_cut_short(tmp_path: Path) -> None:
    body = '[polling]\ntimeout = ["' + "x" * 5000 + '"]\n'
    line = assert_config_error(run_with(tmp_path, body), "polling.timeout", "wrong type", "…")
    assert len(line) < 300


def test_an_endless_opml_file_is_read_no_further_than_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    db = f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
    path.write_text(db + '[polling]\nopml = "/dev/zero"\n', encoding="utf-8")
    result = run_cli(["--config", str(path), "status", "--json"])
    assert_config_error(result, "polling.opml", "/dev/zero", "larger than 5 MiB")
