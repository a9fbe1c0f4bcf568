"""`roundup-bot edit DRAFT_ID`: the subcommands and the editor, through the real
command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import write_config
from helpers.cli import ROOT, Run, run_cli
from helpers.drafts import Article, seed

from roundup_bot.core.draft_edits import MAX_BLURB
from roundup_bot.core.errors import DraftError
from roundup_bot.core.records import AddItem, Draft
from roundup_bot.core.weeks import week_by_label
from roundup_bot.storage import open_storage

W48 = week_by_label("2026-W48", "Europe/London", "friday 09:00")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Setup:
    config: Path
    db_url: str
    draft_id: str
    spare: int  # a candidate of the week the draft did not pick
    other_week: int  # a candidate of the week before

    def run(self, *args: str, env: dict[str, str | None] | None = None, input: str = "") -> Run:
        result = run_cli(["--config", str(self.config), *args], env=env, input=input)
        assert result.code != -1, result.stderr  # no traceback
        return result

    def edit(self, *args: str, **kwargs: Any) -> Run:
        return self.run("edit", self.draft_id, *args, **kwargs)

    def stored(self) -> Draft:
        store = open_storage(self.db_url)
        try:
            return store.drafts.get(int(self.draft_id))
        finally:
            store.close()


@pytest.fixture
def setup(tmp_path: Path, db_url: str) -> Setup:
    store = open_storage(db_url)
    try:
        seeded = seed(
            store,
            [
                Article(slug="a", published=W48.end - timedelta(days=1), summary="First. More."),
                Article(
                    slug="b",
                    published=W48.end - timedelta(days=2),
                    summary="Second post in a sentence.",
                ),
                Article(
                    slug="c",
                    published=W48.end - timedelta(days=3),
                    summary="Third post in a sentence.",
                ),
                Article(slug="spare", published=W48.start + timedelta(hours=1)),
                Article(slug="old", published=W48.start - timedelta(days=2)),
            ],
            NOW,
        )
    finally:
        store.close()
    config = write_config(
        tmp_path,
        f"""
[database]
url = "{db_url}"

[roundup]
fetch_link_details = false
max_items = 3
max_per_source = 0

[publish]
output_dir = "out"
""",
    )
    made = run_cli(["--config", str(config), "draft", "--week", "2026-W48"])
    assert made.code == 0, made.stderr
    return Setup(config, db_url, made.stdout.strip(), seeded.ids["spare"], seeded.ids["old"])


def as_json(result: Run) -> dict[str, Any]:
    assert result.code == 0, result.stderr
    return dict(json.loads(result.stdout))


def titles(data: dict[str, Any]) -> list[str]:
    return [item["title"] for item in data["items"]]


# --- the subcommands ------------------------------------------------------------------------


def test_blurbs_intro_and_outro(setup: Setup) -> None:
    done = setup.edit("blurb", "2", "Our own words.")
    assert done.code == 0, done.stderr
    assert done.stdout == (
        f"Saved the blurb of item 2 (“Title of b”). Draft {setup.draft_id} (2026-W48)"
        " is at version 2.\n"
    )
    data = as_json(setup.edit("--json", "blurb", "1", "-", input="From stdin.\r\n\r\nTwo.\n"))
    assert [item["blurb"] for item in data["items"]] == [
        "From stdin.\n\nTwo.",
        "Our own words.",
        "Third post in a sentence.",
    ]
    assert data["items"][0]["edited"]["blurb"]
    assert data["version"] == 3
    data = as_json(setup.edit("intro", "A special week.", "--json", "--by", "ann"))
    assert data["intro"] == "A special week."
    data = as_json(setup.edit("outro", "-", "--json", input="See you.\n"))
    assert data["outro"] == "See you."
    # The same text again changes nothing and keeps the version.
    same = setup.edit("outro", "See you.")
    assert same.code == 0
    assert same.stdout == (
        f"Nothing had changed: draft {setup.draft_id} (2026-W48) is still at version 5.\n"
    )


def test_title_and_author_are_the_editors_own_until_emptied(setup: Setup) -> None:
    data = as_json(setup.edit("--json", "title", "1", "  A better\ntitle "))
    assert data["items"][0]["title"] == "A better title"
    assert data["items"][0]["edited"]["details"]
    done = setup.edit("author", "1", "Someone Else")
    assert "Saved the author of item 1 (“A better title”); it shows “Someone Else”." in done.stdout
    back = setup.edit("--json", "title", "1", "")
    data = as_json(back)
    assert data["items"][0]["title"] == "Title of a"  # the feed's again
    assert data["items"][0]["author"] == "Someone Else"  # still the editor's
    assert "Put back the automatic title of item 1" in back.stderr  # --json: message on stderr


def test_move_remove_restore(setup: Setup) -> None:
    data = as_json(setup.edit("--json", "move", "3", "--to", "1"))
    assert titles(data) == ["Title of c", "Title of a", "Title of b"]
    assert data["items"][0]["edited"]["moved"]
    removed = setup.edit("remove", "2")
    assert removed.stdout.startswith(
        "Removed item 2 (“Title of a”). It is listed as removed item 3:"
        f" `roundup-bot edit {setup.draft_id} restore 3` puts it back."
    )
    data = as_json(setup.edit("restore", "3", "--json"))
    assert titles(data) == ["Title of c", "Title of b", "Title of a"]
    wrong = setup.edit("restore", "1")
    assert wrong.code == 1
    assert wrong.stderr == (
        f"error: item 1 of draft {setup.draft_id} is not among the removed ones\n"
    )


def test_add_only_the_weeks_candidates(setup: Setup) -> None:
    data = as_json(setup.edit("--json", "add", str(setup.spare)))
    assert titles(data)[-1] == "Title of spare"
    assert data["items"][-1]["edited"]["added"]
    again = setup.edit("add", str(setup.spare))
    assert again.code == 1
    assert again.stderr == (
        f"error: candidate {setup.spare} is already in draft {setup.draft_id}"
        " (item 4 (“Title of spare”))\n"
    )
    other = setup.edit("add", str(setup.other_week))
    assert other.code == 1
    assert other.stderr == (
        f"error: there is no candidate {setup.other_week} in the week of draft"
        f" {setup.draft_id} (2026-W48)\n"
    )
    huge = setup.edit("add", str(2**70))
    assert huge.code == 2
    assert "out of range: no row has that id" in huge.stderr
    # Storage itself refuses such an id as no candidate of the week, on either database.
    store = open_storage(setup.db_url)
    try:
        stored = store.drafts.get(int(setup.draft_id))
        with pytest.raises(DraftError, match=f"there is no candidate {2**63}"):
            store.drafts.apply_edits(
                stored.id, [AddItem(2**63)], expected_version=stored.version, by="t", now=NOW
            )
    finally:
        store.close()
    placed = as_json(setup.edit("--json", "remove", "4"))
    assert len(placed["items"]) == 3
    data = as_json(setup.edit("--json", "add", str(setup.spare), "--to", "1"))
    assert titles(data)[0] == "Title of spare"


def test_problems_are_refused_with_the_web_pages_words(setup: Setup) -> None:
    cases = [
        (("blurb", "9", "x"), f"error: draft {setup.draft_id} has no item 9: it shows 3 items\n"),
        (
            ("move", "1", "--to", "4"),
            f"error: there is no place 4: draft {setup.draft_id} shows 3 items\n",
        ),
        (
            ("blurb", "1", "x" * (MAX_BLURB + 1)),
            f"error: the blurb of item 1 (“Title of a”) is {MAX_BLURB + 1} characters;"
            f" the limit is {MAX_BLURB}\n",
        ),
    ]
    for args, message in cases:
        refused = setup.edit(*args)
        assert (refused.code, refused.stderr) == (1, message), args
    usage = setup.edit("move", "1")
    assert usage.code == 2
    assert "Missing option '--to'" in usage.stderr
    assert setup.stored().version == 1


def test_a_stale_edit_is_refused_naming_who_changed_it(setup: Setup) -> None:
    assert setup.edit("--by", "ann", "intro", "Ann's intro.").code == 0
    stale = setup.edit("--expect-version", "1", "blurb", "1", "Mine.")
    assert stale.code == 1
    assert stale.stderr.startswith(
        f"error: draft {setup.draft_id} was changed meanwhile by ann at "
    )
    assert "(version 2, you had 1): reload it and apply your edits again" in stale.stderr
    fresh = setup.edit("blurb", "1", "Mine.", "--expect-version", "2")
    assert fresh.code == 0, fresh.stderr


def test_an_approved_round_up_is_not_edited(setup: Setup) -> None:
    assert setup.run("approve", setup.draft_id, "--by", "ann").code == 0
    refused = setup.edit("intro", "Too late.")
    assert refused.code == 1
    assert refused.stderr == (
        f"error: draft {setup.draft_id} (2026-W48) is published: reopen it before changing it\n"
    )


# --- the editor -------------------------------------------------------------------------------


def fake_editor(tmp_path: Path, body: str) -> str:
    """An editor command: a script that changes the file it is given with ``body``
    (Python, with ``text`` read from the file and written back after)."""
    script = tmp_path / "fake_editor.py"
    script.write_text(
        "import pathlib, subprocess, sys\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "text = path.read_text(encoding='utf-8')\n"
        f"{body}\n"
        "path.write_text(text, encoding='utf-8')\n",
        encoding="utf-8",
    )
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def test_the_editor_changes_texts_order_and_items(setup: Setup, tmp_path: Path) -> None:
    body = (
        "import re\n"
        "text = text.replace('Here\\'s our round-up', 'Our round-up')\n"
        "head, a, b, c, *tail = re.split(r'(?m)^(?=\\[item |\\[outro\\])', text)\n"
        "text = head + c + a + ''.join(tail)"
    )
    done = setup.edit("--json", env={"VISUAL": fake_editor(tmp_path, body), "EDITOR": None})
    data = as_json(done)
    assert data["intro"].startswith("Our round-up")
    assert titles(data) == ["Title of c", "Title of a"]  # b removed, c moved up
    assert done.stderr.startswith("Saved the intro and the order; removed 1 item.")
    restored = as_json(setup.edit("--json", "restore", "3"))
    assert restored["items"][-1]["blurb"] == "Second post in a sentence."


def test_an_unchanged_or_emptied_form_changes_nothing(setup: Setup, tmp_path: Path) -> None:
    same = setup.edit(env={"EDITOR": fake_editor(tmp_path, "pass"), "VISUAL": None})
    assert same.code == 0, same.stderr
    assert "Nothing had changed" in same.stdout
    emptied = setup.edit(env={"EDITOR": fake_editor(tmp_path, "text = ''"), "VISUAL": None})
    assert emptied.code == 0
    assert "The text was emptied: nothing was changed in draft" in emptied.stderr
    assert setup.stored().version == 1


def test_an_unreadable_form_is_refused_and_kept(setup: Setup, tmp_path: Path) -> None:
    body = "text = text.replace('[outro]', '[item 99999]') + '\\nmy precious words\\n'"
    refused = setup.edit(env={"EDITOR": fake_editor(tmp_path, body), "VISUAL": None})
    assert refused.code == 1
    assert "error: the edited draft could not be read: line " in refused.stderr
    assert "has no item 99999; nothing was changed; your text is kept in " in refused.stderr
    kept = Path(refused.stderr.rsplit("your text is kept in ", 1)[1].strip())
    assert "my precious words" in kept.read_text(encoding="utf-8")
    kept.unlink()


def test_a_draft_changed_while_in_the_editor_is_refused_and_the_text_kept(
    setup: Setup, tmp_path: Path
) -> None:
    other = [sys.executable, "-m", "roundup_bot", "--config", str(setup.config)]
    other += ["edit", setup.draft_id, "--by", "bob", "outro", "Bob was here."]
    body = (
        f"subprocess.run({other!r}, check=True, cwd={str(ROOT)!r})\n"
        "text = text.replace('Second post in a sentence.', 'My careful rewrite.')"
    )
    refused = setup.edit(env={"EDITOR": fake_editor(tmp_path, body), "VISUAL": None})
    assert refused.code == 1
    assert f"error: draft {setup.draft_id} was changed meanwhile by bob at " in refused.stderr
    kept = Path(refused.stderr.rsplit("your text is kept in ", 1)[1].strip())
    assert "My careful rewrite." in kept.read_text(encoding="utf-8")
    kept.unlink()
    stored = setup.stored()
    assert stored.outro == "Bob was here."
    assert [item.blurb for item in stored.shown_items][1] == "Second post in a sentence."


def test_a_failing_editor_changes_nothing(setup: Setup, tmp_path: Path) -> None:
    refused = setup.edit(env={"EDITOR": fake_editor(tmp_path, "sys.exit(3)"), "VISUAL": None})
    assert refused.code == 1
    assert "Editing failed; nothing was changed; your text is kept in" in refused.stderr
    Path(refused.stderr.rsplit("your text is kept in ", 1)[1].strip()).unlink()
