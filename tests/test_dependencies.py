"""Dependencies: floors that leave out releases with published advisories, and a
constraints file with the versions the tests ran with, used by scripts/setup (so
CI tests exactly those) and by the README's deployment steps (so an operator
installs exactly those)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirements(*, extras: bool) -> dict[str, Requirement]:
    lines = list(PYPROJECT["project"]["dependencies"])
    if extras:
        for group in PYPROJECT["project"]["optional-dependencies"].values():
            lines.extend(group)
    found = {}
    for line in lines:
        requirement = Requirement(line)
        found[canonicalize_name(requirement.name)] = requirement
    return found


def pins() -> dict[str, Version]:
    found = {}
    for number, line in enumerate(
        (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines(), 1
    ):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
        assert match, f"constraints.txt line {number} is not name==version: {line!r}"
        found[canonicalize_name(match[1])] = Version(match[2])
    return found


@pytest.mark.parametrize(
    ("name", "advisory_release"),
    [
        ("waitress", "3.0.0"),  # CVE-2024-49768, CVE-2024-49769
        ("jinja2", "3.1.5"),  # CVE-2025-27516
        ("urllib3", "2.4.0"),  # CVE-2025-50181, CVE-2025-50182
        ("urllib3", "2.6.3"),  # CVE-2026-44431, CVE-2026-44432
        ("werkzeug", "3.1.5"),  # CVE-2026-27199
        ("flask", "3.1.0"),  # CVE-2025-47278
        ("httpcore", "1.0.8"),  # allows h11 < 0.16: CVE-2025-43859
    ],
)
def test_dependency_floors_leave_out_releases_with_advisories(
    name: str, advisory_release: str
) -> None:
    direct = requirements(extras=False)
    assert name in direct, f"{name} is not a direct dependency"
    assert advisory_release not in direct[name].specifier


def test_constraints_pin_every_dependency_at_a_version_the_project_accepts() -> None:
    pinned = pins()
    for name, requirement in requirements(extras=True).items():
        assert name in pinned, f"constraints.txt does not pin {name}"
        assert pinned[name] in requirement.specifier, f"{name}=={pinned[name]} vs {requirement}"
    assert "roundup-bot" not in pinned  # the project itself is installed from the checkout


def test_setup_and_the_deployment_steps_install_the_pinned_versions() -> None:
    setup = (ROOT / "scripts" / "setup").read_text(encoding="utf-8")
    assert "-c constraints.txt" in setup
    stamp_line = setup.split("stamp=", 1)[1].split("\n", 1)[0]
    assert "constraints.txt" in stamp_line  # a new constraints.txt re-installs
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bin/pip install -c constraints.txt ." in readme
