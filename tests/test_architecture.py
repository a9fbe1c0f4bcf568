"""The package's shape, read from its imports: layers point one way, each third-party
library has one home, and the exception tree in core/errors.py is the only one.

Every import counts, wherever it is written: at the top, inside a function
(lazy) or under ``if TYPE_CHECKING:``, because each is a dependency a reader has
to follow. The modules are read with ``ast``, never imported.
"""

from __future__ import annotations

import ast
import builtins
import graphlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import roundup_bot

PACKAGE = Path(roundup_bot.__file__).resolve().parent

#: Layer of each top-level part of the package, lowest first. A module may import
#: from its own layer and from lower ranks only; adapters and storage share a rank
#: and do not import each other.
LAYERS: dict[str, tuple[int, str]] = {
    "core": (0, "core"),
    "config": (1, "config"),
    "adapters": (2, "adapters"),
    "storage": (2, "storage"),
    "services": (3, "services"),
    "entrypoints": (4, "entrypoints"),
    "__main__": (5, "__main__"),
}

#: Each third-party library (top-level import name) and the one module or package
#: that may import it. A library missing here fails the test: give it a home first.
#: The few that have a second home are in SHARED_HOMES, each with its reason.
HOMES: dict[str, str] = {
    "sqlalchemy": "roundup_bot.storage",
    "alembic": "roundup_bot.storage",  # db.py runs the migrations kept in storage/migrations
    "psycopg": "roundup_bot.storage",
    "httpx": "roundup_bot.adapters.http",
    "httpcore": "roundup_bot.adapters.http",  # httpx's transport (the address pinning)
    "feedparser": "roundup_bot.adapters.feeds",
    "listparser": "roundup_bot.adapters.opml",
    "extruct": "roundup_bot.adapters.pages",
    "trafilatura": "roundup_bot.adapters.pages",  # an article's main text (first paragraph)
    "lxml": "roundup_bot.adapters.pages",
    "w3lib": "roundup_bot.adapters.pages",
    "tweepy": "roundup_bot.adapters.twitter",
    "requests": "roundup_bot.adapters.bounded_requests",  # the bounded transport
    "urllib3": "roundup_bot.adapters.bounded_requests",
    "tenacity": "roundup_bot.adapters.retrying",
    "mastodon": "roundup_bot.adapters.mastodon",
    "atproto_client": "roundup_bot.adapters.bluesky",
    "jinja2": "roundup_bot.adapters.render",
    "feedgen": "roundup_bot.services.publish",
    "nh3": "roundup_bot.core.curation",  # pure: HTML to text, no I/O
    "url_normalize": "roundup_bot.core.curation",  # pure
    "pydantic": "roundup_bot.config",
    "click": "roundup_bot.entrypoints.cli",
    "orjson": "roundup_bot.entrypoints.cli._output",  # a big week's candidates --json
    "waitress": "roundup_bot.entrypoints.cli.web",
    "apscheduler": "roundup_bot.entrypoints.scheduler",
    "flask": "roundup_bot.entrypoints.web",
    "flask_wtf": "roundup_bot.entrypoints.web",
    "werkzeug": "roundup_bot.entrypoints.web",
    "itsdangerous": "roundup_bot.entrypoints.web",
    "argon2": "roundup_bot.entrypoints.web",
}


#: Libraries imported outside their home too, and why (kept short on purpose).
SHARED_HOMES: dict[str, dict[str, str]] = {
    "requests": {
        # tweepy and Mastodon.py are requests clients: each adapter hands its library a
        # BoundedSession and catches requests' errors where they enter.
        "roundup_bot.adapters.twitter": "tweepy runs on requests; its errors enter here",
        "roundup_bot.adapters.mastodon": "Mastodon.py runs on requests; its errors enter here",
    },
    "httpx": {
        "roundup_bot.adapters.bluesky": "atproto runs on httpx: the adapter gives it a bounded"
        " transport and catches httpx's errors where they enter",
    },
    "httpcore": {
        "roundup_bot.adapters.bluesky": "atproto's httpx transport ends each exchange by one"
        " deadline through an httpcore network backend",
    },
    "tenacity": {
        "roundup_bot.adapters.twitter": "X's retries predate adapters/retrying.py",
    },
}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, "roundup_bot.services.jobs"
    target: str  # what it imports, "roundup_bot.services.mentions" or "tweepy.errors"
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def imports_of(path: Path) -> Iterator[Import]:
    """Every import in the file, lazy and TYPE_CHECKING ones included; relative
    imports are resolved to absolute names."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            yield Import(module, base, node.lineno)
            if base == "roundup_bot":  # `from roundup_bot import services`
                for alias in node.names:
                    yield Import(module, f"{base}.{alias.name}", node.lineno)


def all_imports() -> list[Import]:
    return [found for path in sorted(PACKAGE.rglob("*.py")) for found in imports_of(path)]


def layer_of(module: str) -> tuple[int, str] | None:
    """(rank, layer) of a roundup_bot module; None for the package itself (__version__)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


def upward_imports(imports: list[Import]) -> list[str]:
    problems = []
    for found in imports:
        if not found.target.startswith("roundup_bot."):
            continue
        source, target = layer_of(found.module), layer_of(found.target)
        if source is None or target is None or source[1] == target[1]:
            continue
        if target[0] >= source[0]:
            problems.append(
                f"{found.module}:{found.line} imports {found.target} "
                f"({source[1]} may not import from {target[1]})"
            )
    return sorted(set(problems))


def homeless_imports(imports: list[Import]) -> list[str]:
    problems = []
    for found in imports:
        top = found.target.split(".")[0]
        if not top or top == "roundup_bot" or top in sys.stdlib_module_names:
            continue
        home = HOMES.get(top)
        if home is None:
            problems.append(f"{found.module}:{found.line} imports {top}, which has no home")
        elif found.module in SHARED_HOMES.get(top, {}):
            continue
        elif found.module != home and not found.module.startswith(home + "."):
            problems.append(f"{found.module}:{found.line} imports {top} (its home is {home})")
    return sorted(set(problems))


def test_no_module_imports_from_a_layer_above_it() -> None:
    assert upward_imports(all_imports()) == []


def test_each_third_party_library_is_imported_only_in_its_home() -> None:
    assert homeless_imports(all_imports()) == []


def module_graph(imports: list[Import]) -> dict[str, set[str]]:
    """Each module and the package modules it imports (a name imported from a
    module counts as that module)."""
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for found in imports:
        target = found.target
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != found.module and not found.module.startswith(target + "."):
            graph[found.module].add(target)
    return graph


def test_no_import_circle() -> None:
    """A package's ``__init__`` aside (its modules may read it), no module reaches
    itself through imports, lazy and TYPE_CHECKING ones included."""
    try:
        tuple(graphlib.TopologicalSorter(module_graph(all_imports())).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")


def test_every_part_of_the_package_has_a_layer() -> None:
    tops = {module_name(p).split(".")[1] for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE}
    tops |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert tops <= set(LAYERS)


def test_the_package_module_imports_nothing_of_its_own() -> None:
    """Every layer may read roundup_bot.__version__, so the package itself imports no layer."""
    own = [i for i in imports_of(PACKAGE / "__init__.py") if i.target.startswith("roundup_bot")]
    assert own == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from roundup_bot.config import Settings\n",
            ["roundup_bot.core.x:1 imports roundup_bot.config (core may not import from config)"],
        ),
        (
            "def f():\n    from roundup_bot.services import jobs\n",
            [
                "roundup_bot.core.x:2 imports roundup_bot.services (core may not import "
                "from services)"
            ],
        ),
        (
            "def f():\n    from roundup_bot import entrypoints\n",
            [
                "roundup_bot.core.x:2 imports roundup_bot.entrypoints (core may not import "
                "from entrypoints)"
            ],
        ),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    import roundup_bot.storage.db\n",
            [
                "roundup_bot.core.x:3 imports roundup_bot.storage.db (core may not import "
                "from storage)"
            ],
        ),
        ("from roundup_bot.core.records import Candidate\n", []),
    ],
)
def test_the_layer_check_sees_every_kind_of_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: list[str]
) -> None:
    """The checks above would pass vacuously if the walk missed lazy or TYPE_CHECKING imports."""
    fake = tmp_path / "roundup_bot"
    (fake / "core").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "core" / "x.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert upward_imports(list(imports_of(fake / "core" / "x.py"))) == expected


def test_the_home_check_sees_a_library_outside_its_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "roundup_bot"
    (fake / "services").mkdir(parents=True)
    (fake / "services" / "thanks.py").write_text("def f():\n    import jinja2.sandbox\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert homeless_imports(list(imports_of(fake / "services" / "thanks.py"))) == [
        "roundup_bot.services.thanks:2 imports jinja2 (its home is roundup_bot.adapters.render)"
    ]


# -- the one exception tree --------------------------------------------------------

_BUILTIN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def _tree_classes() -> dict[str, ast.ClassDef]:
    tree = ast.parse((PACKAGE / "core" / "errors.py").read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


#: Exceptions that are signals between two modules of one layer, never errors a caller
#: sees (each is translated into the tree before it leaves the adapters).
SIGNALS = {
    "roundup_bot.adapters.retrying.Transient",  # "retry this call", to tenacity
    "roundup_bot.adapters.retrying.RateLimited",  # "wait for the reset", to retrying.call
    "roundup_bot.adapters.bounded_requests.AnswerTooLarge",  # a requests error, as requests wants
}


def test_every_error_class_lives_in_the_one_tree() -> None:
    """An exception class defined anywhere else is a second tree. Two kinds are not
    errors and may stay with the code that raises them: a module's private signal
    (``_Transient``, a retry marker that never leaves its module) and an interrupt
    deriving from BaseException itself (cpu_budget.OverBudget, which, like
    KeyboardInterrupt, no ``except Exception`` may swallow; feeds.py turns it into a
    FeedParseError)."""
    tree = set(_tree_classes())
    elsewhere = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "core" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {ast.unparse(base).rpartition(".")[2] for base in node.bases}
            if bases == {"BaseException"}:
                continue
            if f"{module_name(path)}.{node.name}" in SIGNALS:
                continue
            if bases & (tree | _BUILTIN_ERRORS):
                elsewhere.append(f"{module_name(path)}.{node.name}")
    assert elsewhere == []


def test_the_tree_is_drawn_in_its_docstring() -> None:
    import roundup_bot.core.errors as errors

    drawing = errors.__doc__ or ""
    drawn = set(re.findall(r"── (\w+)", drawing)) | set(re.findall(r"^    (\w+)", drawing, re.M))
    assert set(_tree_classes()) - drawn == set()
    for name in _tree_classes():
        cls = getattr(errors, name)
        assert issubclass(cls, errors.RoundupError), name


# -- one clock, one wiring ----------------------------------------------------------


def _calls(path: Path, dotted: str) -> list[int]:
    """Lines of ``path`` that use ``dotted`` ("datetime.now"), called or not."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and ast.unparse(node) == dotted
    ]


def test_the_time_of_day_is_read_in_one_place() -> None:
    """core/clock.py is the one clock; everything else is handed a Clock or ``now``."""
    readers = [
        f"{module_name(path)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for dotted in ("datetime.now", "datetime.utcnow", "time.time")
        for line in _calls(path, dotted)
    ]
    assert [r.partition(":")[0] for r in readers] == ["roundup_bot.core.clock"]


def test_the_use_cases_take_their_secrets_from_the_wiring() -> None:
    """services/app.py is the one place in the use cases that reads the environment."""
    readers = [
        f"{module_name(path)}:{line}"
        for path in sorted((PACKAGE / "services").rglob("*.py"))
        for dotted in ("os.environ", "os.getenv")
        for line in _calls(path, dotted)
    ]
    assert [r for r in readers if not r.startswith("roundup_bot.services.app:")] == []
