"""A raw socket server on loopback that drips its answer a byte at a time.

Each byte comes well inside any per-read timeout, so only a deadline on the
whole exchange can end the request; the whole answer would take about a
minute. The drip stops as soon as the test closes the server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
    b"Content-Length: 0\r\n\r\n"  # no body: only the headers are slow
)
GAP = 0.5  # seconds between bytes


@contextmanager
def dripping_headers(host: str = "127.0.0.1") -> Iterator[str]:
    """Serve every request with ``HEAD`` (status line and headers first) one byte
    every ``GAP`` seconds; yields the base URL."""
    stop = threading.Event()
    listener = socket.create_server((host, 0))

    def drip(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                for byte in HEAD:
                    conn.sendall(bytes([byte]))
                    if stop.wait(GAP):
                        return
            except OSError:
                return  # the client gave up

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{listener.getsockname()[1]}"
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        listener.close()
        thread.join(5)
