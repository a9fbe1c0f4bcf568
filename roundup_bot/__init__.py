"""roundup-bot: finds the week's best local-government blog posts and drafts the round-up."""

from __future__ import annotations

__version__: str  # set by __getattr__ below, on first use

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use. Looking it up
    searches every installed distribution (about 6 ms), and importlib.metadata with
    the email package costs more than that again where nothing else loads it; most
    commands never show the version."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("roundup-bot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
