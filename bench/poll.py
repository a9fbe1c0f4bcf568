"""Benchmark: how fast roundup-bot polls many feeds, against the `reader` library.

Run by hand (not a test)::

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/poll.py            # 1,000 feeds, 16 workers, 3 repeats

A separate server process (bench/_feedserver.py) serves N distinct feeds built
from the corpus's real-world captures, adding a fixed latency to every request
and answering conditional GETs with 304. Each measurement runs in its own child
process (so memory figures are per client) on a fresh SQLite database:

1. roundup-bot cold poll: the real code path (config file -> build_app ->
   sync feeds -> for_update -> polling.poll_feeds), every feed new;
2. roundup-bot warm re-poll: the same again on that database, every feed 304;
3. reader cold update: make_reader + add_feed for each, then
   update_feeds(workers=W), on its own fresh database (its warm re-poll is
   timed too, for information).

Every measurement is repeated (--repeat) and the medians are reported, with
feeds per second, the ratio roundup-bot / reader, the warm re-poll time against
the latency floor (N / W x latency) and the peak RSS of the roundup-bot child
(its own, and with any helper processes it started added in).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _feedserver  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/poll.py",
        description="Poll N local feeds with roundup-bot (cold, then warm) and with reader; "
        "print medians, feeds/s, ratios and peak RSS.",
    )
    parser.add_argument("--feeds", "-n", type=int, default=1000, help="feeds to serve (1000)")
    parser.add_argument(
        "--workers",
        "-w",
        type=int,
        default=16,
        help="concurrency W for both clients: roundup-bot [polling] concurrency and "
        "reader's update_feeds(workers=W) (16)",
    )
    parser.add_argument("--repeat", "-r", type=int, default=3, help="runs of each (3)")
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds the server waits per request (0.1)"
    )
    parser.add_argument(
        "--hosts",
        type=int,
        default=50,
        help="loopback addresses 127.0.0.1..127.0.0.H the feeds are spread over (50); "
        "roundup-bot keeps its default per-host limit",
    )
    parser.add_argument(
        "--per-host",
        type=int,
        default=None,
        help="roundup-bot's [polling] per_host (default: its own default, 2)",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=_feedserver.default_corpus(),
        help="the corpus's feeds folder (default: ../shared/corpus/feeds)",
    )
    parser.add_argument(
        "--parse-processes",
        type=int,
        default=None,
        help="roundup-bot's parse worker processes (default: its own choice, one per CPU; "
        "0 parses in threads, as before the process pool)",
    )
    parser.add_argument("--skip-reader", action="store_true", help="measure roundup-bot only")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--child", choices=["roundup", "reader"], help=argparse.SUPPRESS)
    parser.add_argument("--urls", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- children: one measurement each, JSON on stdout ---------------------------------


def own_cpu_seconds() -> float:
    """CPU time (user + system) of this process alone (all its threads)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its children that have ended."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own_cpu_seconds() + kids.ru_utime + kids.ru_stime


def _maxrss_mb() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"maxrss_self_mb": round(me, 1), "maxrss_children_mb": round(kids, 1)}


def child_roundup(
    urls: list[str], workers: int, per_host: int | None, parse_processes: int | None
) -> dict[str, Any]:
    from dataclasses import replace

    from roundup_bot.config import load_settings
    from roundup_bot.core.clock import utc_now
    from roundup_bot.services.app import build_app
    from roundup_bot.services.polling import poll_feeds

    with tempfile.TemporaryDirectory(prefix="bench-roundup-") as tmp:
        config = Path(tmp) / "config.toml"
        lines = [
            "[database]",
            f'url = "sqlite:///{Path(tmp) / "roundup.db"}"',
            "[polling]",
            f"concurrency = {workers}",
        ]
        if per_host is not None:
            lines.append(f"per_host = {per_host}")
        for url in urls:
            lines += ["[[feeds]]", f'url = "{url}"']
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        app = build_app(load_settings(config, environ={}))
        try:
            app.sync_feeds(utc_now())
            options = app.poll_options()
            if parse_processes is not None:
                options = replace(options, parse_processes=parse_processes)
            runs: dict[str, Any] = {}
            for phase in ("cold", "warm"):
                started = time.perf_counter()
                cpu_started = cpu_seconds()
                own_started = own_cpu_seconds()
                now = utc_now()
                selected = app.storage.feeds.for_update(now, mode="poll")
                outcomes = poll_feeds(
                    app.storage,
                    selected,
                    app.feed_policy(),
                    options,
                )
                elapsed = time.perf_counter() - started
                failed = [o for o in outcomes if not o.ok]
                runs[phase] = {
                    "seconds": elapsed,
                    "cpu_seconds": cpu_seconds() - cpu_started,
                    # the event loop (HTTP), the writer thread (storage); the rest is parsing
                    "main_cpu_seconds": own_cpu_seconds() - own_started,
                    "feeds": len(outcomes),
                    "failed": len(failed),
                    "errors": sorted({o.error or "" for o in failed})[:5],
                    "not_modified": sum(o.not_modified for o in outcomes),
                    "new_entries": sum(o.new_entries for o in outcomes),
                }
            runs["candidates"] = app.storage.candidates.count()
        finally:
            app.close()
    return {**runs, **_maxrss_mb()}


def child_reader(urls: list[str], workers: int) -> dict[str, Any]:
    from reader import make_reader

    with tempfile.TemporaryDirectory(prefix="bench-reader-") as tmp:
        reader = make_reader(str(Path(tmp) / "reader.sqlite"))
        try:
            for url in urls:
                reader.add_feed(url)
            runs: dict[str, Any] = {}
            for phase in ("cold", "warm"):
                started = time.perf_counter()
                cpu_started = cpu_seconds()
                failed: list[str] = []
                new = not_modified = done = 0
                for result in reader.update_feeds_iter(workers=workers, scheduled=False):
                    done += 1
                    if isinstance(result.value, Exception):
                        failed.append(f"{type(result.value).__name__}: {result.value}")
                    elif result.value is None:
                        not_modified += 1
                    else:
                        new += result.value.new
                elapsed = time.perf_counter() - started
                runs[phase] = {
                    "seconds": elapsed,
                    "cpu_seconds": cpu_seconds() - cpu_started,
                    "feeds": done,
                    "failed": len(failed),
                    "errors": sorted(set(failed))[:5],
                    "not_modified": not_modified,
                    "new_entries": new,
                }
            runs["candidates"] = reader.get_entry_counts().total
        finally:
            reader.close()
    return {**runs, **_maxrss_mb()}


# --- the parent: server, children, figures --------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], int]:
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "_feedserver.py"),
                "--corpus",
                str(args.corpus),
                "--feeds",
                str(args.feeds),
                "--hosts",
                str(args.hosts),
                "--latency",
                str(args.latency),
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line.startswith("READY"):
            return proc, port
        proc.wait()
    raise SystemExit("the feed server did not start (see its error above)")


def server_stats(port: int, reset: bool = False) -> dict[str, int]:
    url = f"http://127.0.0.1:{port}/" + ("_reset" if reset else "_stats")
    request = urllib.request.Request(url, method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def run_child(kind: str, args: argparse.Namespace, urls_file: Path, port: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--urls",
        str(urls_file),
        "--workers",
        str(args.workers),
    ]
    if args.per_host is not None:
        command += ["--per-host", str(args.per_host)]
    if args.parse_processes is not None:
        command += ["--parse-processes", str(args.parse_processes)]
    server_stats(port, reset=True)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        peak = peak_tree_rss(child)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.stderr.write(err.read())
            raise SystemExit(f"the {kind} child failed with status {child.returncode}")
        result: dict[str, Any] = json.loads(out.read().strip().splitlines()[-1])
    result["peak_tree_rss_mb"] = round(peak / 2**20, 1)
    result["server"] = server_stats(port)
    return result


def peak_tree_rss(child: subprocess.Popen[str], interval: float = 0.1) -> int:
    """Sample, from outside, the RSS of the child plus its own children (a parse
    pool) until it exits; returns the largest sum seen, in bytes."""
    import psutil

    try:
        top = psutil.Process(child.pid)
    except psutil.NoSuchProcess:
        child.wait()
        return 0
    peak = 0
    while child.poll() is None:
        total = 0
        try:
            procs = [top, *top.children(recursive=True)]
        except psutil.Error:
            procs = [top]
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        peak = max(peak, total)
        time.sleep(interval)
    return peak


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(args: argparse.Namespace, rounds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    n, w = args.feeds, args.workers
    floor = n / w * args.latency
    rb = rounds["roundup"]
    rb_cold = median([r["cold"]["seconds"] for r in rb])
    rb_warm = median([r["warm"]["seconds"] for r in rb])
    rss_tree = max(r["peak_tree_rss_mb"] for r in rb)
    rss_self = max(r["maxrss_self_mb"] for r in rb)
    figures: dict[str, Any] = {
        "feeds": n,
        "workers": w,
        "latency_s": args.latency,
        "hosts": args.hosts,
        "per_host": args.per_host,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "roundup_cold_s": rb_cold,
        "roundup_cold_feeds_per_s": n / rb_cold,
        "roundup_warm_s": rb_warm,
        "roundup_cold_cpu_s": median([r["cold"]["cpu_seconds"] for r in rb]),
        "roundup_cold_main_cpu_s": median([r["cold"]["main_cpu_seconds"] for r in rb]),
        "latency_floor_s": floor,
        "warm_vs_floor": rb_warm / floor,
        "roundup_peak_rss_mb": rss_tree,
        "roundup_maxrss_self_mb": rss_self,
        "runs": rounds,
    }
    print()
    print(f"N = {n} feeds, W = {w} workers, {args.latency * 1000:g} ms latency per request,")
    host_note = f"{args.hosts} loopback addresses (127.0.0.1..127.0.0.{args.hosts})"
    limit = args.per_host if args.per_host is not None else "2 (default)"
    print(f"feeds spread over {host_note}; roundup-bot per_host = {limit}; reader has no")
    print(f"per-host limit; {os.cpu_count()} CPUs; medians of {args.repeat} runs.")
    processes = "auto" if args.parse_processes is None else args.parse_processes
    print(f"roundup-bot parse processes: {processes}; CPU s = user + system, all processes.")
    print()
    print(f"{'':28}{'median s':>10}{'feeds/s':>10}{'CPU s':>8}   runs (s)")
    _row("roundup-bot cold poll", rb, "cold", n)
    _row("roundup-bot warm re-poll", rb, "warm", n)
    if "reader" in rounds:
        rd = rounds["reader"]
        rd_cold = median([r["cold"]["seconds"] for r in rd])
        _row("reader cold update", rd, "cold", n)
        _row("reader warm update", rd, "warm", n)
        figures["reader_cold_s"] = rd_cold
        figures["reader_cold_feeds_per_s"] = n / rd_cold
        figures["reader_warm_s"] = median([r["warm"]["seconds"] for r in rd])
        figures["reader_cold_cpu_s"] = median([r["cold"]["cpu_seconds"] for r in rd])
        figures["cold_ratio_roundup_over_reader"] = rd_cold / rb_cold
        figures["reader_peak_rss_mb"] = max(r["peak_tree_rss_mb"] for r in rd)
    main_cpu = figures["roundup_cold_main_cpu_s"]
    print(
        f"roundup-bot cold CPU: {main_cpu:.1f} s in the main process (HTTP, storage), "
        f"{figures['roundup_cold_cpu_s'] - main_cpu:.1f} s in the parse workers (medians)"
    )
    print()
    if "reader" in rounds:
        ratio = figures["cold_ratio_roundup_over_reader"]
        print(f"cold throughput roundup-bot / reader: {ratio:.2f}x   (target >= 3x)")
    print(
        f"warm re-poll {rb_warm:.2f} s vs latency floor {n}/{w} x {args.latency:g} s = "
        f"{floor:.2f} s: {rb_warm / floor:.2f}x   (target <= 1.2x)"
    )
    print(
        f"roundup-bot peak RSS: {rss_tree:.0f} MB (process and its helpers, sampled), "
        f"{rss_self:.0f} MB (ru_maxrss of the main process)   (target < 250 MB)"
    )
    if "reader" in rounds:
        print(f"reader peak RSS: {figures['reader_peak_rss_mb']:.0f} MB")
    print()
    for kind, runs in rounds.items():
        first = runs[0]
        for phase in ("cold", "warm"):
            info = first[phase]
            errors = "; ".join(info["errors"])
            print(
                f"{kind} {phase}: {info['feeds']} feeds, {info['failed']} failed, "
                f"{info['not_modified']} not modified, {info['new_entries']} new entries"
                + (f" [{errors}]" if errors else "")
            )
        print(f"{kind}: {first['candidates']} stored entries; server saw {first['server']}")
    return figures


def _row(label: str, runs: list[dict[str, Any]], phase: str, n: int) -> None:
    seconds = [r[phase]["seconds"] for r in runs]
    mid = median(seconds)
    cpu = median([r[phase]["cpu_seconds"] for r in runs])
    listed = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"{label:28}{mid:>10.2f}{n / mid:>10.1f}{cpu:>8.1f}   {listed}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        urls = args.urls.read_text(encoding="utf-8").split()
        if args.child == "roundup":
            result = child_roundup(urls, args.workers, args.per_host, args.parse_processes)
        else:
            result = child_reader(urls, args.workers)
        print(json.dumps(result))
        return
    print(f"building {args.feeds} feeds from {args.corpus} ...", file=sys.stderr)
    load_before = os.getloadavg()
    server, port = start_server(args)
    try:
        urls = [_feedserver.feed_url(i, port, args.hosts) for i in range(args.feeds)]
        with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
            urls_file = Path(tmp) / "urls.txt"
            urls_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
            kinds = ["roundup"] if args.skip_reader else ["roundup", "reader"]
            rounds: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
            for run in range(args.repeat):
                for kind in kinds:
                    print(f"run {run + 1}/{args.repeat}: {kind} ...", file=sys.stderr)
                    rounds[kind].append(run_child(kind, args, urls_file, port))
        figures = report(args, rounds)
        load_after = os.getloadavg()
        print(
            f"machine load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}: "
            "other work on the machine slows both clients"
        )
        figures["load_average_before_after"] = [load_before[0], load_after[0]]
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
