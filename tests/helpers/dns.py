"""Playing DNS for the HTTP client: a scripted resolver and sites that stand in
for public ones.

:class:`FakeDns` goes through :class:`HttpFetcher`'s ``resolver`` seam. For a
"public" site, a server on 127.0.0.1 stands in (:func:`loopback_counts_as_public`)
while 127.0.0.2 and every other private address stay private, and
:func:`public_and_internal` puts one server on each, on one port, so a URL reaches
either depending only on the address the client connects to.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from helpers.server import LocalServer
from roundup_bot.adapters import http as http_module


class FakeDns:
    """Scripted answers per name: the n-th lookup of a name gets its n-th answer
    (the last one repeats); an unknown name does not resolve. Every lookup is
    recorded in ``lookups``."""

    def __init__(self, answers: dict[str, list[list[str]]] | None = None) -> None:
        self.answers = answers or {}
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        script = self.answers.get(host)
        if script is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return script[min(self.lookups.count(host), len(script)) - 1]


def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let 127.0.0.1 stand in for a public address, and nothing else."""
    original = http_module.is_public_address
    monkeypatch.setattr(http_module, "is_public_address", lambda a: a == "127.0.0.1" or original(a))


@contextmanager
def public_and_internal() -> Iterator[tuple[LocalServer, LocalServer]]:
    """A "public" server on 127.0.0.1 and an internal one on 127.0.0.2, on one port."""
    for _attempt in range(20):
        with ExitStack() as stack:
            internal = stack.enter_context(LocalServer("127.0.0.2"))
            try:
                public = stack.enter_context(LocalServer("127.0.0.1", port=internal.port))
            except OSError:
                continue  # that port is taken on 127.0.0.1; try another
            yield public, internal
            return
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")
