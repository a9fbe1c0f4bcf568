"""One deadline per request covers the whole exchange, slow headers included.

The social clients (Mastodon.py and tweepy through BoundedSession, atproto through
BoundedTransport) once checked their deadline only while reading the body, so a
server dripping its status line and headers a byte every half second, each byte
inside the per-read timeout, held a request for about a minute. Each must now
fail with its timeout error at a 1 s deadline; no wall-clock assertion: the old
code returned the dripped answer.
"""

from __future__ import annotations

import socket

import httpx
import pytest
import requests
from helpers.drip_server import dripping_headers
from pytest_httpserver import HTTPServer

from roundup_bot.adapters.bluesky import BoundedTransport
from roundup_bot.adapters.bounded_requests import BoundedSession, may_have_been_sent

DEADLINE = 1.0


def test_the_requests_session_ends_dripped_headers_at_the_deadline() -> None:
    with (
        dripping_headers() as base,
        BoundedSession(DEADLINE) as session,
        pytest.raises(requests.Timeout, match="within 1 s"),
    ):
        session.get(f"{base}/api/v1/notifications")


def test_the_httpx_transport_ends_dripped_headers_at_the_deadline() -> None:
    transport = BoundedTransport(DEADLINE, 1 << 20)
    with (
        dripping_headers() as base,
        httpx.Client(transport=transport) as client,
        pytest.raises(httpx.TimeoutException),
    ):
        client.get(f"{base}/xrpc/app.bsky.notification.listNotifications")


def test_after_a_cut_off_the_next_request_is_served_in_full(httpserver: HTTPServer) -> None:
    """The deadline belongs to one request: the session and the transport serve the
    next one, and a prompt answer is never cut off."""
    httpserver.expect_request("/ok").respond_with_json({"ok": True})
    transport = BoundedTransport(DEADLINE, 1 << 20)
    with (
        dripping_headers() as base,
        BoundedSession(DEADLINE) as session,
        httpx.Client(transport=transport) as client,
    ):
        with pytest.raises(requests.Timeout):
            session.get(f"{base}/slow")
        with pytest.raises(httpx.TimeoutException):
            client.get(f"{base}/slow")
        assert session.get(httpserver.url_for("/ok")).json() == {"ok": True}
        assert client.get(httpserver.url_for("/ok")).json() == {"ok": True}


def test_a_refused_connection_never_sent_the_request_but_a_lost_answer_may_have() -> None:
    """What decides whether a post may be sent again (only when it never went out)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there: the connection is refused
    with BoundedSession(DEADLINE) as session, pytest.raises(requests.ConnectionError) as refused:
        session.post(f"http://127.0.0.1:{port}/2/tweets")
    assert may_have_been_sent(refused.value) is False
    with (
        dripping_headers() as base,
        BoundedSession(DEADLINE) as session,
        pytest.raises(requests.Timeout) as lost,
    ):
        session.post(f"{base}/2/tweets")
    assert may_have_been_sent(lost.value) is True
