"""A GET-only client of the Docker Engine API over its unix socket.

The visualizer only looks: this module has no way to send anything but GET.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote


class EngineError(Exception):
    """The engine could not be asked or gave no usable answer; str() says what to do."""


class _UnixConnection(http.client.HTTPConnection):
    """An HTTPConnection that dials a unix socket instead of a TCP port."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DockerEngine:
    """Reads JSON from the engine behind one unix socket."""

    def __init__(self, socket_path: str, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def get(self, path: str) -> Any:
        """GET path from the engine and return its decoded JSON body."""
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            conn.request("GET", path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            body = response.read()
        except OSError as exc:
            raise EngineError(self._explain(exc)) from exc
        except http.client.HTTPException as exc:
            raise EngineError(
                f"The Docker engine at {self.socket_path} gave a broken answer: {exc}"
            ) from exc
        finally:
            conn.close()
        if response.status != 200:
            raise EngineError(
                f"The Docker engine answered {response.status} to GET {path}: {_message(body)}"
            )
        try:
            return json.loads(body)
        except ValueError as exc:
            raise EngineError(f"The Docker engine sent no JSON for GET {path}: {exc}") from exc

    def info(self) -> dict[str, Any]:
        """GET /info: the engine, including its Swarm part."""
        return self.get("/info")

    def nodes(self) -> list[dict[str, Any]]:
        """GET /nodes: every node of the swarm (managers only)."""
        return self.get("/nodes")

    def services(self) -> list[dict[str, Any]]:
        """GET /services: every service of the swarm (managers only)."""
        return self.get("/services")

    def running_tasks(self) -> list[dict[str, Any]]:
        """GET /tasks, only those whose desired state is running."""
        filters = quote(json.dumps({"desired-state": ["running"]}))
        return self.get(f"/tasks?filters={filters}")

    def _explain(self, exc: OSError) -> str:
        """Turn a socket error into a sentence that says what to check."""
        path = self.socket_path
        if isinstance(exc, FileNotFoundError):
            return (
                f"Docker socket {path} does not exist: mount it into the container "
                f"(-v /var/run/docker.sock:{path}:ro) or set DOCKER_SOCKET to its path."
            )
        if isinstance(exc, PermissionError):
            return (
                f"Permission denied on Docker socket {path}: run the visualizer with the "
                'socket\'s group (user: "<uid>:<gid of docker.sock>").'
            )
        if isinstance(exc, ConnectionRefusedError):
            return f"Nothing answers on {path}: is it a socket, and is dockerd running?"
        if isinstance(exc, TimeoutError):
            return f"The Docker engine at {path} did not answer within {self.timeout:g} s."
        return f"Cannot talk to the Docker engine at {path}: {exc}"


def _message(body: bytes) -> str:
    """The engine's own error message from a JSON error body, else the raw text."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace").strip() or "(empty answer)"
