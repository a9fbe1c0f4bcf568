"""axe-core for the browser tests: fetched from the npm registry, never committed.

``npm pack axe-core@VERSION`` downloads the published tarball (npm checks its
integrity against the registry) into ``.cache/axe-core-VERSION/`` beside the
checkout (gitignored), and only ``axe.min.js`` is kept from it. A second run
reads the cached copy. ``.ci/run`` installs node and npm where they are missing.

:func:`audit` runs the WCAG 2.2 A and AA rules (and the 2.0/2.1 ones they
include) on the page as it stands and returns the violations that matter
here, serious or critical, in one readable line each.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

#: Pinned, so an audit that passes today passes tomorrow; raise it on purpose.
VERSION = "4.14.1"
ROOT = Path(__file__).resolve().parent.parent.parent
CACHE = ROOT / ".cache" / f"axe-core-{VERSION}"
#: The WCAG 2.2 AA audit: every A and AA rule of WCAG 2.0, 2.1 and 2.2.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")


class AxeUnavailable(Exception):
    """npm is missing or the registry could not be reached."""


def axe_source() -> str:
    """The text of axe.min.js, fetched once with npm.

    Raises:
        AxeUnavailable: no npm on PATH, or ``npm pack`` failed.
    """
    cached = CACHE / "axe.min.js"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    npm = shutil.which("npm")
    if npm is None:
        raise AxeUnavailable("npm is not installed (apt-get install nodejs npm; .ci/run does)")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", f"axe-core@{VERSION}", "--silent", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(tmp).glob("axe-core-*.tgz"))
        if done.returncode != 0 or not tarballs:
            last = (done.stderr.strip().splitlines() or ["no tarball"])[-1]
            raise AxeUnavailable(f"npm pack axe-core@{VERSION} failed: {last}")
        with tarfile.open(tarballs[0]) as tar:
            member = tar.extractfile("package/axe.min.js")
            if member is None:
                raise AxeUnavailable(f"axe-core@{VERSION} has no axe.min.js")
            text = member.read().decode("utf-8")
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(cached)  # whole or not at all, should two runs race
    return text


def audit(page: Any, source: str) -> list[str]:
    """The serious and critical WCAG 2.2 AA violations on ``page`` (a Playwright
    page), one line each: rule, impact, how many elements, the first one's selector."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    result: dict[str, Any] = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        TAGS,
    )
    lines = []
    for v in result["violations"]:
        if v.get("impact") in BLOCKING:
            first = v["nodes"][0]
            target = " ".join(str(t) for t in first.get("target", []))
            summary = (first.get("failureSummary") or "").replace("\n", " ")
            lines.append(
                f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {target}: {summary[:200]}"
            )
    return lines
