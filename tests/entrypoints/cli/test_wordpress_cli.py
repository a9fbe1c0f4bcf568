"""WordPress through the real command line: approve, publish, drafts --json, status,
wordpress check and comments; a process killed between creating the post and
storing its id; credentials never in output. Against the fake WordPress on 127.0.0.1."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import write_config
from helpers.cli import run_cli, start_cli
from helpers.drafts import Article, seed
from helpers.fake_wordpress import (
    ACCOUNT_PASSWORD,
    APP_PASSWORD,
    SITE,
    TOKEN,
    FakeWordPress,
    basic_env,
    token_env,
)

from roundup_bot.core.weeks import week_by_label
from roundup_bot.storage import open_storage

W48 = week_by_label("2026-W48", "Europe/London", "friday 09:00")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def wp() -> Iterator[FakeWordPress]:
    with FakeWordPress() as fake:
        yield fake


def configure(tmp_path: Path, wordpress: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{tmp_path / 'roundup.db'}"
    store = open_storage(db)
    try:
        seed(
            store,
            [
                Article(
                    slug="a", published=W48.end - timedelta(days=1), summary="One.", tips=("ann",)
                )
            ],
            NOW,
        )
    finally:
        store.close()
    return write_config(
        tmp_path,
        f"""
[database]
url = "{db}"

[roundup]
fetch_link_details = false

[publish]
output_dir = "out"
base_url = "https://roundup.example"

[wordpress]
{wordpress}
""",
    )


@pytest.fixture
def config(tmp_path: Path, wp: FakeWordPress) -> Path:
    return configure(tmp_path, f'enabled = true\nsite_url = "{wp.url}"\ncategories = ["Round-ups"]')


def draft_id(config: Path) -> int:
    made = run_cli(["--config", str(config), "draft", "--week", "2026-W48"])
    assert made.code == 0, made.stderr
    return int(made.stdout.strip())


def cli(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = run_cli(["--config", str(config), *args], env=env if env is not None else basic_env())
    return result.code, result.stdout, result.stderr


def test_approve_publishes_the_post_and_drafts_and_status_show_it(
    config: Path, wp: FakeWordPress
) -> None:
    draft = draft_id(config)
    code, out, err = cli(config, "approve", str(draft), "--by", "Ann")
    assert code == 0, err
    post_id = next(iter(wp.posts))
    assert f"WordPress: post {post_id} (draft) {wp.url}/welovelocalgov-2026-w48/" in out
    assert f"edit it in WordPress: {wp.url}/wp-admin/post.php?post={post_id}&action=edit" in out

    code, out, _ = cli(config, "drafts", "--json")
    entry = json.loads(out)["drafts"][0]
    assert entry["wordpress"] == {
        "id": post_id,
        "link": f"{wp.url}/welovelocalgov-2026-w48/",
        "edit_link": f"{wp.url}/wp-admin/post.php?post={post_id}&action=edit",
        "status": "draft",
        "state": "done",
        "error": None,
        "next_try": None,
    }
    code, out, _ = cli(config, "status")
    assert f"last publish (2026-W48): WordPress: post {post_id} (draft)" in out
    code, out, _ = cli(config, "status", "--json")
    assert json.loads(out)["wordpress"]["last"]["id"] == post_id


def test_a_failed_post_is_reported_and_publish_retries_it(config: Path, wp: FakeWordPress) -> None:
    draft = draft_id(config)
    wp.fail_next("POST", "posts", "status", status=502)
    code, out, err = cli(config, "approve", str(draft), "--by", "Ann")
    assert code == 1
    assert "out/2026-W48.html" in out  # the files are published
    assert "WordPress: FAILED: WordPress answered HTTP 502" in out
    assert f"`roundup-bot publish {draft}` tries again" in err
    code, out, _ = cli(config, "drafts", "--json")
    failed = json.loads(out)["drafts"][0]["wordpress"]
    assert failed["state"] == "failed"
    assert "HTTP 502" in failed["error"]
    code, out, _ = cli(config, "status")
    assert "WordPress: FAILED: WordPress answered HTTP 502" in out

    code, out, err = cli(config, "publish", str(draft))
    assert code == 0, err
    assert "WordPress: post" in out
    assert len(wp.posts) == 1
    code, out, _ = cli(config, "publish", str(draft))  # nothing left to do
    assert code == 0
    assert len(wp.requests("POST", "posts")) == 2  # the one that failed (502), the one made
    assert len(wp.posts) == 1


def test_a_crash_between_creating_and_storing_never_makes_a_second_post(
    config: Path, wp: FakeWordPress
) -> None:
    """A real process is killed (SIGKILL) while WordPress has made the post but before
    its answer arrives: the id is never stored. Publishing again finds the post by its
    slug and updates it."""
    draft = draft_id(config)
    wp.fail_next("POST", "posts", "hold_after")
    child = start_cli(
        ["--config", str(config), "approve", str(draft), "--by", "Ann"], env=basic_env()
    )
    try:
        assert wp.holding.wait(60), "the approval never reached WordPress"
        assert len(wp.posts) == 1  # made in WordPress; the answer is held
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
    wp.released.set()
    code, out, _ = cli(config, "drafts", "--json")
    step = json.loads(out)["drafts"][0]
    assert step["status"] == "published"
    assert step["wordpress"]["state"] == "pending"
    assert step["wordpress"]["id"] is None  # the crash came before the id was stored

    code, out, err = cli(config, "publish", str(draft))
    assert code == 0, err
    assert list(wp.posts) == [
        json.loads(cli(config, "drafts", "--json")[1])["drafts"][0]["wordpress"]["id"]
    ]
    assert len(wp.requests("POST", "posts")) == 1  # found by its slug, updated
    assert len(wp.requests("POST", r"posts/\d+")) == 1


def test_missing_credentials_are_a_config_error_and_nothing_is_approved(
    config: Path, wp: FakeWordPress
) -> None:
    draft = draft_id(config)
    code, _out, err = cli(config, "approve", str(draft), "--by", "Ann", env={})
    assert code == 2
    assert "ROUNDUP_WORDPRESS_USERNAME" in err
    assert "Traceback" not in err
    code, out, _ = cli(config, "drafts", "--json")
    assert json.loads(out)["drafts"][0]["status"] == "draft"
    assert not wp.seen


def test_plain_http_to_another_machine_is_a_config_error(tmp_path: Path) -> None:
    config = configure(tmp_path, 'enabled = true\nsite_url = "http://blog.example.org"')
    code, _out, err = cli(config, "wordpress", "check")
    assert code == 2
    assert "wordpress.site_url" in err
    assert "never sent over plain HTTP" in err


def test_wordpress_check_signs_in_both_ways(tmp_path: Path, wp: FakeWordPress) -> None:
    basic = configure(tmp_path / "basic", f'enabled = true\nsite_url = "{wp.url}"')
    code, out, err = cli(basic, "wordpress", "check")
    assert code == 0, err
    assert f"signed in to {wp.url}/wp-json/wp/v2/ as Ed Itor (editor)" in out
    assert "Application Password" in out
    token = configure(
        tmp_path / "token",
        f'enabled = true\nsite_url = "https://{SITE}"\napi_url = "{wp.wpcom_root}"',
    )
    code, out, err = cli(token, "wordpress", "check", env=token_env())
    assert code == 0, err
    assert f"wp/v2/sites/{SITE}/" in out
    assert "WordPress.com token" in out


@pytest.mark.parametrize(
    ("env", "cause"),
    [
        (basic_env(password=ACCOUNT_PASSWORD), "must be an Application Password"),
        (basic_env(login="Ed Itor"), "must be the login name"),
        ({"ROUNDUP_WORDPRESS_USERNAME": "editor", "ROUNDUP_WORDPRESS_APP_PASSWORD": ""}, None),
    ],
)
def test_wordpress_check_names_the_likely_cause(
    config: Path, env: dict[str, str], cause: str | None
) -> None:
    code, out, err = cli(config, "--log-level", "DEBUG", "wordpress", "check", env=env)
    if cause is None:
        assert code == 2
        assert "ROUNDUP_WORDPRESS_APP_PASSWORD: not set" in err
        return
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert cause in lines[0]
    for secret in (ACCOUNT_PASSWORD, APP_PASSWORD, TOKEN):
        assert secret not in out + err


def test_wordpress_comments_reads_each_comment_once(config: Path, wp: FakeWordPress) -> None:
    draft = draft_id(config)
    assert cli(config, "approve", str(draft), "--by", "Ann")[0] == 0
    post = next(iter(wp.posts))
    wp.add_comment(post, '<p>See <a href="https://council.example.gov.uk/new">this</a></p>')
    code, out, err = cli(config, "wordpress", "comments", "--json")
    assert code == 0, err
    assert json.loads(out) | {} == {
        "ok": True,
        "comments": 1,
        "accepted": 1,
        "rejected": 0,
        "new_candidates": 1,
        "error": None,
    }
    code, out, _ = cli(config, "wordpress", "comments", "--json")
    assert json.loads(out)["comments"] == 0  # read once


def test_mentions_points_to_wordpress_comments(config: Path) -> None:
    code, _out, err = cli(config, "mentions", "--channel", "wordpress")
    assert code == 2
    assert "roundup-bot wordpress comments" in err
    assert "Traceback" not in err
