"""roundup-bot: finds the week's best local-government blog posts and drafts the round-up."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("roundup-bot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
