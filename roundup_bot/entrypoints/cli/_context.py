"""What every command shares: the settings and the app, loaded on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from roundup_bot.config import Settings, load_settings, resolve_config_path
from roundup_bot.entrypoints.cli._logging import setup_logging

if TYPE_CHECKING:  # the app pulls in SQLAlchemy: loaded only by commands that need it
    from roundup_bot.services.app import App


@dataclass
class CliContext:
    config_path: str | None
    log_level: str | None
    log_format: str | None
    _settings: Settings | None = field(default=None, repr=False)
    _app: App | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(resolve_config_path(self.config_path))
            logging_settings = self._settings.logging
            setup_logging(
                self.log_level or logging_settings.level,
                self.log_format or logging_settings.format,
            )
        return self._settings

    @property
    def app(self) -> App:
        if self._app is None:
            from roundup_bot.services.app import build_app

            self._app = build_app(self.settings)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None


pass_cli = click.make_pass_decorator(CliContext)
