"""The HTTP side: static page, /api/state, /healthz; GET and HEAD only."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from .config import Config
from .engine import DockerEngine
from .state import fetch_state

LOG = logging.getLogger("swarmviz")
JSON_TYPE = "application/json"

# Path -> (file in the static folder, content type). Nothing else is served.
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}

# Everything the page needs comes from this server; the browser may load nothing else.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class VisualizerServer(ThreadingHTTPServer):
    """A threading HTTP server that holds the configuration, engine client and page files."""

    daemon_threads = True

    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine = DockerEngine(config.docker_socket, config.engine_timeout)
        self.static = _load_static()
        super().__init__((config.host, config.port), VisualizerHandler)


class VisualizerHandler(BaseHTTPRequestHandler):
    """Answers GET and HEAD; every other method gets 405."""

    server: VisualizerServer

    def version_string(self) -> str:
        return "swarmviz"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up do_<METHOD>; any method but GET/HEAD is refused.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _refuse(self) -> None:
        self.close_connection = True
        refusal = f"{self.command} is not allowed: this visualizer only reads (GET, HEAD)."
        body = _json_bytes({"error": refusal})
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, JSON_TYPE, body, {"Allow": "GET, HEAD"})

    def _answer(self, send_body: bool) -> None:
        status, ctype, body = self._route(self.path.split("?", 1)[0])
        self._send(status, ctype, body, {"Cache-Control": "no-store"}, send_body)

    def _route(self, path: str) -> tuple[HTTPStatus, str, bytes]:
        if path == "/api/state":
            return self._state()
        if path == "/healthz":
            return HTTPStatus.OK, "text/plain; charset=utf-8", b"ok\n"
        if path in STATIC_FILES:
            name, ctype = STATIC_FILES[path]
            return HTTPStatus.OK, ctype, self.server.static[name]
        return HTTPStatus.NOT_FOUND, JSON_TYPE, _json_bytes({"error": "not found"})

    def _state(self) -> tuple[HTTPStatus, str, bytes]:
        state = fetch_state(self.server.engine)
        state["refresh_seconds"] = self.server.config.refresh_seconds
        status = HTTPStatus.SERVICE_UNAVAILABLE if "error" in state else HTTPStatus.OK
        if "error" in state:
            LOG.warning("%s", state["error"])
        return status, JSON_TYPE, _json_bytes(state)

    def _send(
        self,
        status: HTTPStatus,
        ctype: str,
        body: bytes,
        headers: dict[str, str],
        send_body: bool = True,
    ) -> None:
        self.send_response(status)
        headers = {"Content-Type": ctype, "Content-Length": str(len(body))} | headers
        for name, value in (SECURITY_HEADERS | headers).items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Browsers poll every few seconds: log only what went wrong.
        if str(code).isdigit() and int(code) >= HTTPStatus.BAD_REQUEST:
            super().log_request(code, size)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.info("%s %s", self.address_string(), format % args)


def create_app(config: Config | None = None) -> VisualizerServer:
    """Build the server (bound, not yet serving) from config or the environment."""
    return VisualizerServer(config or Config.from_env())


def _load_static() -> dict[str, bytes]:
    """Read the page's files once, so nothing is read from disk per request."""
    folder = resources.files(__package__) / "static"
    return {name: (folder / name).read_bytes() for name, _ in STATIC_FILES.values()}


def _json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=1).encode("utf-8") + b"\n"
