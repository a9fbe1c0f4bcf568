"""A ``requests.Session`` whose every request has one deadline and a size limit.

tweepy and Mastodon.py both speak through a ``requests.Session`` they let us
supply. requests' own timeout only bounds each wait for bytes, so an answer
that drips a byte at a time (its status line and headers as much as its body),
or never ends, would hold a run for ever; and it reads any amount of body. This
session puts one deadline on the whole exchange: a watchdog shuts the
request's connection down when the deadline passes, whatever phase it is in
(connecting, sending, waiting for headers, reading the body), and the failure
is raised as ``requests.Timeout``. It reads the body itself, under a size limit
counted after decompression.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

#: The largest answer read from a social API: a page of posts is a few hundred
#: KiB, so anything near this is not a page.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


class AnswerTooLarge(requests.RequestException):
    """The answer went past the size limit (after decompression)."""


class BoundedSession(requests.Session):
    """Every request gets ``timeout`` as a deadline for the whole exchange and
    ``max_bytes`` as the largest body; overrun raises ``requests.Timeout`` or
    :class:`AnswerTooLarge`, which the libraries above treat as failed requests."""

    def __init__(self, timeout: float, max_bytes: int = MAX_ANSWER_BYTES) -> None:
        super().__init__()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.mount("http://", _WatchedAdapter())
        self.mount("https://", _WatchedAdapter())

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        kwargs["stream"] = True
        deadline = time.monotonic() + self.timeout
        watch = _Watchdog(deadline)
        _current.watch = watch
        try:
            response = super().request(method, url, *args, **kwargs)
            try:
                response._content = self._read_body(response, deadline)
            finally:
                response.close()
        except requests.RequestException as exc:
            if watch.expired and not isinstance(exc, AnswerTooLarge):
                raise requests.Timeout(
                    f"no whole answer within {self.timeout:g} s", request=exc.request
                ) from exc
            raise
        finally:
            _current.watch = None
            watch.close()
        return response

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        # read1 returns whatever one read gives (iter_content would wait for a
        # whole chunk however slowly it drips), decompressed a bounded piece at a time.
        body = bytearray()
        while chunk := self._read1(response):
            body += chunk
            if len(body) > self.max_bytes:
                raise AnswerTooLarge(f"more than {self.max_bytes // 1024 // 1024} MiB")
            if time.monotonic() > deadline:
                raise requests.Timeout(f"the answer took more than {self.timeout:g} s")
        return bytes(body)

    @staticmethod
    def _read1(response: requests.Response) -> bytes:
        """One read, with urllib3's errors as the requests errors the libraries expect."""
        try:
            return bytes(response.raw.read1(64 * 1024, decode_content=True))
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.Timeout(str(exc)) from exc
        except urllib3.exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(str(exc)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise requests.ConnectionError(str(exc)) from exc


def may_have_been_sent(exc: requests.RequestException) -> bool:
    """False only when the request certainly never reached the server: no connection
    could be made (refused, no such host, no connection within the timeout). A
    timeout or a dropped connection after connecting may come after the server
    acted on the request, so a post must not be sent again."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError
        return not isinstance(reason, urllib3.exceptions.NewConnectionError)
    return True


class _Watchdog:
    """Shuts down the connections of one request once its deadline passes.

    urllib3 sets each socket's timeout once per phase, so a server that sends a
    byte just inside it, again and again, is never timed out; shutting the socket
    down wakes any blocked read or write at once. Connections are watched from
    the moment the pool hands them out (a fresh one may not have its socket yet:
    the watchdog keeps looking until the request ends)."""

    POLL = 0.05  # seconds between looks for a socket after the deadline

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._connections: list[BaseHTTPConnection] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, connection: BaseHTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="request-deadline", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        self._done.set()

    def _run(self) -> None:
        if self._done.wait(max(self.deadline - time.monotonic(), 0.0)):
            return
        self.expired = True
        shut: set[int] = set()
        while True:
            with self._lock:
                sockets = [s for c in self._connections if (s := getattr(c, "sock", None))]
            for sock in sockets:
                if id(sock) not in shut:
                    shut.add(id(sock))
                    with contextlib.suppress(OSError):  # already closed
                        sock.shutdown(socket.SHUT_RDWR)
            if self._done.wait(self.POLL):
                return


class _Current(threading.local):
    watch: _Watchdog | None = None


#: The watchdog of the request this thread is making, for the pools to report to.
_current = _Current()


def _report(connection: BaseHTTPConnection) -> BaseHTTPConnection:
    watch = _current.watch
    if watch is not None:
        watch.watch(connection)
    return connection


class _WatchedHTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        return _report(super()._get_conn(timeout))


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        return _report(super()._get_conn(timeout))


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter over pools that show their connections to the watchdog."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }
