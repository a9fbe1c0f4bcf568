"""A ``requests.Session`` whose every request has one deadline and a size limit.

tweepy and Mastodon.py both speak through a ``requests.Session`` they let us
supply. requests' own timeout only bounds each wait for bytes, so an answer
that drips a byte at a time, or never ends, would hold a run for ever; and it
reads any amount of body. This session reads the body itself, under one
deadline for the whole request and a size limit counted after decompression.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import urllib3

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

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        kwargs["stream"] = True
        deadline = time.monotonic() + self.timeout
        response = super().request(method, url, *args, **kwargs)
        try:
            response._content = self._read_body(response, deadline)
        finally:
            response.close()
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
