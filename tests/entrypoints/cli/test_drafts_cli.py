"""The draft commands end to end through the real command line entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import write_config
from helpers.drafts import Article, seed

from roundup_bot.core.weeks import week_by_label
from roundup_bot.entrypoints.cli import main
from roundup_bot.storage import open_storage

W48 = week_by_label("2026-W48", "Europe/London", "friday 09:00")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), *args])
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = f"sqlite:///{tmp_path / 'roundup.db'}"
    store = open_storage(db)
    try:
        seed(
            store,
            [
                Article(
                    slug="a",
                    published=W48.end - timedelta(days=1),
                    summary="The first one is short. More.",
                    tips=("ann", "bob"),
                ),
                Article(slug="b", published=W48.end - timedelta(days=2), summary="Second."),
                Article(slug="spam", published=W48.end - timedelta(days=1), host="spam.example"),
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
max_items = 5

[ranking]
blocked_domains = ["spam.example"]

[publish]
output_dir = "out"
""",
    )


def test_draft_show_approve_reopen(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, config, "draft", "--week", "2026-W48", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"id", "week", "status", "items"}
    assert data["week"] == "2026-W48"
    assert data["status"] == "draft"
    first = data["items"][0]
    assert set(first) >= {
        "candidate_id",
        "url",
        "title",
        "author",
        "site_name",
        "blurb",
        "suggested_by",
        "score",
    }
    assert first["suggested_by"] == ["@ann", "@bob"]
    assert first["blurb"] == "The first one is short. More."
    assert [i["url"] for i in data["items"]] == [
        "https://blog.example.gov.uk/a",
        "https://blog.example.gov.uk/b",
    ]  # the blocked domain is left out
    draft_id = str(data["id"])

    code, out, _ = run(capsys, config, "draft", "--week", "2026-W48")
    assert code == 0
    assert out.strip() == draft_id  # refreshed, same draft

    code, out, _ = run(capsys, config, "show", draft_id, "--format", "html")
    assert "thanks to @ann and @bob for the tip" in out
    code, out, _ = run(capsys, config, "show", draft_id, "--format", "markdown")
    assert out.startswith("# That was the local government week that was")
    code, out, _ = run(capsys, config, "show", draft_id)
    assert "1. Title of a" in out

    code, out, err = run(capsys, config, "approve", draft_id, "--by", "Ann Editor")
    assert code == 0, err
    assert (config.parent / "out" / "2026-W48.html").is_file()
    assert (config.parent / "out" / "feed.xml").is_file()

    code, out, err = run(capsys, config, "draft", "--week", "2026-W48")
    assert code == 0
    assert "is published by Ann Editor; left alone" in err

    code, out, _ = run(capsys, config, "drafts", "--json")
    [listed] = json.loads(out)["drafts"]
    assert listed["status"] == "published"
    assert listed["approved_by"] == "Ann Editor"

    code, _, err = run(capsys, config, "reopen", draft_id)
    assert code == 1
    assert "--force" in err
    code, out, _ = run(capsys, config, "reopen", draft_id, "--force", "--by", "Ann Editor")
    assert code == 0
    code, out, _ = run(capsys, config, "drafts")
    assert "draft" in out.splitlines()[2]


def test_candidates_show_score_and_why(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = run(capsys, config, "candidates", "--week", "2026-W48", "--json")
    assert code == 0
    rows = {row["url"].rsplit("/", 1)[1]: row for row in json.loads(out)}
    assert rows["a"]["score"] > rows["b"]["score"]
    names = {part["name"]: part["points"] for part in rows["a"]["why"]}
    assert names["suggestions"] == 6.0
    assert rows["spam"]["excluded"] == "blocked domain spam.example"
    code, out, _ = run(capsys, config, "candidates", "--week", "2026-W48")
    assert "score" in out.splitlines()[0]
    assert "out" in [line.split()[-1] for line in out.splitlines()[2:]]


def test_errors_are_one_clear_line(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, _, err = run(capsys, config, "show", "999")
    assert code == 1
    assert err.strip() == "error: no draft with id 999 (see `roundup-bot drafts`)"
    code, _, err = run(capsys, config, "draft", "--week", "2026-W99")
    assert code == 2
    assert "2026 has no week 99" in err
    code, _, err = run(capsys, config, "draft", "--week", "bogus")
    assert code == 2
    assert "'bogus' is not an ISO week" in err
    code, _, err = run(capsys, config, "approve", "1")
    assert code == 2  # --by is required


def test_a_malformed_week_is_not_recorded_as_a_failed_draft_run(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, _, _ = run(capsys, config, "draft", "--week", "2026-W99")
    assert code == 2
    code, out, _ = run(capsys, config, "status", "--json")
    assert code == 0
    [draft_job] = [job for job in json.loads(out)["jobs"] if job["name"] == "draft"]
    assert draft_job["last_started"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("show", "99999999999999999999"),
        ("show", "2147483648"),
        ("approve", "99999999999999999999", "--by", "ann"),
        ("reopen", "99999999999999999999"),
        ("draft", "--week", "0001-W01"),
        ("draft", "--week", "9999-W52"),
        ("candidates", "--week", "0001-W01"),
        ("candidates", "--since", "0001-01-01T00:00+14:00"),
        ("candidates", "--until", "9999-12-31T23:59-14:00"),
    ],
)
def test_out_of_range_ids_weeks_and_dates_are_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], config: Path, args: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, config, *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "out of range" in err or "not in the range" in err, err
    assert "Traceback" not in err


def test_a_limit_beyond_any_count_lists_everything(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, _ = run(capsys, config, "candidates", "--limit", "99999999999999999999", "--json")
    assert code == 0
    assert len(json.loads(out)) == 3
