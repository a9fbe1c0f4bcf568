"""Allows ``python -m roundup_bot``."""

from roundup_bot.entrypoints.cli import main

if __name__ == "__main__":
    main()
