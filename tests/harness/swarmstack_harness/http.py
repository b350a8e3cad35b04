"""HTTP to the nodes' ports: one request with its timing, JSON in and out, a free port."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CONNECTION_ERRORS = (OSError, http.client.HTTPException)
"""What ``request`` raises when no answer comes: a probe that waits counts them as "not yet"."""

VISITS = re.compile(r"<b>Visits:</b> (\d+)")
"""The counter on the web app's page: ``<b>Visits:</b> N``."""


@dataclass
class Answer:
    """One HTTP answer: status, body, headers (lower-case names) and seconds taken."""

    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)

    def visits(self) -> int | None:
        """The counter of the web app's page, if this is that page."""
        match = VISITS.search(self.body.decode(errors="replace"))
        return int(match.group(1)) if match else None


def request(
    url: str, method: str = "GET", body: bytes | None = None, timeout: float = 60
) -> Answer:
    """One request on a connection of its own; a body is sent as JSON.

    Connection errors raise OSError or http.client.HTTPException; an HTTP
    error status is an answer like any other.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    started = time.perf_counter()
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        names = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, data, names, time.perf_counter() - started)
    finally:
        conn.close()


def get_json(url: str, timeout: float = 30) -> Any:
    """GET url, which must answer 200 with JSON."""
    answer = request(url, timeout=timeout)
    if answer.status != 200:
        raise AssertionError(f"GET {url} answered {answer.status}: {answer.body[:200]!r}")
    return answer.json()


def send_json(url: str, method: str, body: Any = None, timeout: float = 60) -> int:
    """Send body as JSON (none when None); the status of the answer."""
    data = None if body is None else json.dumps(body).encode()
    return request(url, method, data, timeout=timeout).status


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
