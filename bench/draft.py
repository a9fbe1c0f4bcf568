"""Benchmark: the weekly draft and the week's candidates on a big SQLite database.

Builds (once, cached in bench/.cache/) a database of 1,000,000 candidates over
two years, 20,000 of them in the benchmarked week, each carried by one or two
of 300 feeds and some suggested on X; then times, as real subprocesses of the
installed command (so start-up counts), the median of several runs of:

    roundup-bot draft --week 2026-W48 --no-link-details     target < 1 s
    roundup-bot candidates --week 2026-W48 --json           target < 2 s

and the same two operations in-process (without interpreter start-up).

    .venv/bin/python bench/draft.py [--runs 5] [--rebuild]
"""

from __future__ import annotations

import argparse
import compileall
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
WEEK_LABEL = "2026-W48"
TOTAL = 1_000_000
IN_WEEK = 20_000
FEEDS = 300
SEED = 48


def _fmt(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC DateTime in SQLite."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path) -> None:
    """Create the schema with the app's own migrations, then bulk-load it in one
    transaction with executemany (minutes would go to per-row ORM inserts)."""
    sys.path.insert(0, str(ROOT))
    from roundup_bot.core.weeks import week_by_label
    from roundup_bot.storage import open_storage

    week = week_by_label(WEEK_LABEL, "Europe/London", "friday 09:00")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    open_storage(f"sqlite:///{partial}").close()
    rng = random.Random(SEED)
    now = _fmt(week.end)
    started = time.perf_counter()
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO feeds (id, url, name, weight, enabled, in_config, consecutive_errors,"
        " gone, created_at) VALUES (?, ?, ?, ?, 1, 1, 0, 0, ?)",
        [
            (n, f"https://blog{n}.example.gov.uk/feed", f"Council blog {n}", w, now)
            for n in range(1, FEEDS + 1)
            for w in [rng.choice((0.7, 0.8, 1.0, 1.0, 1.0, 1.2, 1.5))]
        ],
    )
    span = timedelta(days=730)
    history_start = week.start - span

    def moments() -> Iterator[datetime]:
        for n in range(TOTAL):
            if n % (TOTAL // IN_WEEK) == 0:
                yield week.start + (week.end - week.start) * rng.random()
            else:
                yield history_start + span * rng.random()

    words = ["digital", "housing", "social care", "data", "libraries", "climate", "budget"]
    candidate_rows = []
    source_rows = []
    suggestion_rows = []
    source_id = 0
    for n, moment in enumerate(moments(), start=1):
        feed = rng.randint(1, FEEDS)
        placed = _fmt(moment)
        topic = rng.choice(words)
        candidate_rows.append(
            (
                n,
                f"https://blog{feed}.example.gov.uk/{n}",
                f"https://blog{feed}.example.gov.uk/{n}?utm_source=rss",
                f"Post {n} about {topic} in the council",
                f"Author {n % 5000}",
                placed,
                f"What we learnt about {topic} this month. We tried things. Some worked.",
                placed,
                placed,
                placed,
            )
        )
        for carrier in {feed, *([rng.randint(1, FEEDS)] if rng.random() < 0.1 else [])}:
            source_id += 1
            source_rows.append(
                (
                    source_id,
                    n,
                    "feed",
                    str(carrier),
                    carrier,
                    f"Council blog {carrier}",
                    f"https://blog{carrier}.example.gov.uk/feed",
                    placed,
                )
            )
        if rng.random() < 0.03:
            for who in range(rng.randint(1, 3)):
                user = f"user{rng.randint(1, 20000)}"
                suggestion_rows.append(
                    (
                        "x",
                        f"{n}-{who}",
                        f"https://x.com/{user}/status/{n}{who}",
                        user,
                        placed,
                        candidate_rows[-1][2],
                        candidate_rows[-1][1],
                        n,
                        "accepted",
                        placed,
                    )
                )
    conn.executemany(
        "INSERT INTO candidates (id, url, link, title, author, published, summary, first_seen,"
        " updated_at, placed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        candidate_rows,
    )
    conn.executemany(
        "INSERT INTO candidate_sources (id, candidate_id, kind, source_ref, feed_id, name, url,"
        " first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        source_rows,
    )
    conn.executemany(
        "INSERT INTO suggestions (platform, post_id, post_url, author_username, posted_at, link,"
        " canonical_url, candidate_id, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        suggestion_rows,
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    os.replace(partial, path)
    print(
        f"built {path.name}: {TOTAL:,} candidates ({IN_WEEK:,} in {WEEK_LABEL}), "
        f"{len(source_rows):,} sources, {len(suggestion_rows):,} suggestions "
        f"in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )


def _config(db: Path, work: Path) -> Path:
    config = work / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n\n'
        "[roundup]\nfetch_link_details = false\n\n"
        f'[publish]\noutput_dir = "{work / "public"}"\n',
        encoding="utf-8",
    )
    return config


def _time_command(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) seconds of each run of a subprocess; CPU
    time says more than wall time on a machine busy with other work."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times, cpu


def _time_in_process(config: Path, runs: int) -> tuple[list[float], list[float]]:
    sys.path.insert(0, str(ROOT))
    from roundup_bot.config import load_settings
    from roundup_bot.services.app import build_app
    from roundup_bot.services.drafting import draft_week, resolve_week, score_candidates

    app = build_app(load_settings(config))
    week = resolve_week(app, WEEK_LABEL, datetime.now(UTC))
    drafts, lists = [], []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            draft_week(app, week, fetch_details=False)
            drafts.append(time.perf_counter() - started)
            started = time.perf_counter()
            found = app.storage.candidates.list(week.start, week.end)
            score_candidates(app, found)
            lists.append(time.perf_counter() - started)
    finally:
        app.close()
    return drafts, lists


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="Build the database again.")
    options = parser.parse_args()
    db = CACHE / "draft-1m.db"
    if options.rebuild or not db.exists():
        build(db)
    else:  # a database cached by an older checkout: migrate it before timing anything
        sys.path.insert(0, str(ROOT))
        from roundup_bot.storage import open_storage

        open_storage(f"sqlite:///{db}").close()
    work = CACHE / "draft-work"
    work.mkdir(parents=True, exist_ok=True)
    # The benchmark's own copy of drafts: start from none, so the first run creates.
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM draft_items")
        conn.execute("DELETE FROM drafts")
    config = _config(db, work)
    # Time the commands as installed (pip compiles every module): with
    # PYTHONDONTWRITEBYTECODE set, as in some shells, an editable checkout would
    # otherwise compile its 125 modules from source on every run.
    compileall.compile_dir(ROOT / "roundup_bot", quiet=1)
    command = [str(ROOT / ".venv" / "bin" / "roundup-bot"), "--config", str(config)]
    draft_times, draft_cpu = _time_command([*command, "draft", "--week", WEEK_LABEL], options.runs)
    list_times, list_cpu = _time_command(
        [*command, "candidates", "--week", WEEK_LABEL, "--json"], options.runs
    )
    startup, startup_cpu = _time_command([*command, "--help"], options.runs)
    in_draft, in_list = _time_in_process(config, options.runs)

    def line(name: str, times: list[float], target: float | None) -> str:
        median = statistics.median(times)
        verdict = "" if target is None else (" ok" if median < target else " OVER TARGET")
        shown = ", ".join(f"{t:.2f}" for t in times)
        return f"{name:<56} median {median:6.3f} s  [{shown}]{verdict}"

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"SQLite, {TOTAL:,} candidates, {IN_WEEK:,} in {WEEK_LABEL}; {options.runs} runs each;"
        f" {os.cpu_count()} CPUs, load average {load}"
    )
    print(line("roundup-bot draft, wall (subprocess; 1st creates)", draft_times, 1.0))
    print(line("roundup-bot draft, CPU", draft_cpu, 1.0))
    print(line("roundup-bot candidates --week --json, wall", list_times, 2.0))
    print(line("roundup-bot candidates --week --json, CPU", list_cpu, 2.0))
    print(line("roundup-bot --help, wall (start-up and imports only)", startup, None))
    print(line("roundup-bot --help, CPU", startup_cpu, None))
    print(line("draft_week in-process, wall (refresh)", in_draft, None))
    print(line("week's candidates + scores in-process, wall", in_list, None))


if __name__ == "__main__":
    main()
