"""The visualizer's HTTP side, in this process: pages, methods, and engine errors."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from swarmstack_harness.http import free_port

VISUALIZER_DIR = Path(__file__).resolve().parents[2] / "files" / "visualizer"
WRITE_METHODS = ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"]
PATHS = ["/", "/api/state", "/healthz", "/services/create", "/swarm/leave", "/nodes/x/update"]
EXTERNAL = re.compile(r"https?:|[\"'(=]\s*//|@import|googleapis|cdn", re.IGNORECASE)


class EngineSpy:
    """A unix socket that records each request line sent to it; answers 500, or nothing."""

    def __init__(self, path: Path, answer: bool = True) -> None:
        self.path, self.answer, self.requests = path, answer, []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                self.requests.append(conn.recv(65536).split(b"\r\n", 1)[0].decode())
                if self.answer:
                    conn.sendall(
                        b'HTTP/1.1 500 Oops\r\nContent-Length: 19\r\n\r\n{"message":"spied"}'
                    )
                else:
                    time.sleep(2)

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def spy(tmp_path: Path) -> Iterator[EngineSpy]:
    engine = EngineSpy(tmp_path / "docker.sock")
    yield engine
    engine.close()


def test_page_and_its_files_are_served(serve: Callable[..., str]) -> None:
    url = serve()
    page = requests.get(url + "/", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for name, kind in [("app.js", "text/javascript"), ("style.css", "text/css")]:
        assert f'"{name}"' in page.text
        asset = requests.get(f"{url}/{name}", timeout=5)
        assert asset.status_code == 200 and asset.headers["Content-Type"].startswith(kind)


def test_served_files_name_no_outside_address(serve: Callable[..., str]) -> None:
    url = serve()
    for path in ["/", "/app.js", "/style.css"]:
        text = requests.get(url + path, timeout=5).text
        assert not EXTERNAL.findall(text), f"{path} refers to something outside the app"
    html = requests.get(url + "/", timeout=5).text
    for ref in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert ref.startswith("data:") or re.fullmatch(r"[\w./-]+", ref), ref


def test_unknown_path_is_404_and_head_has_no_body(serve: Callable[..., str]) -> None:
    url = serve()
    assert requests.get(url + "/../etc/passwd", timeout=5).status_code == 404
    head = requests.head(url + "/", timeout=5)
    assert (
        head.status_code == 200 and head.content == b"" and int(head.headers["Content-Length"]) > 0
    )


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_anything_but_get_is_refused_without_asking_the_engine(
    serve: Callable[..., str], spy: EngineSpy, method: str
) -> None:
    url = serve(docker_socket=str(spy.path))
    for path in PATHS:
        response = requests.request(method, url + path, data=b'{"Name": "x"}', timeout=5)
        assert response.status_code == 405, (method, path)
        assert response.headers["Allow"] == "GET, HEAD"
    assert spy.requests == []
    requests.get(url + "/api/state", timeout=5)
    assert spy.requests == ["GET /info HTTP/1.1"]


def test_engine_error_answer_is_passed_on(serve: Callable[..., str], spy: EngineSpy) -> None:
    state = requests.get(serve(docker_socket=str(spy.path)) + "/api/state", timeout=5)
    assert state.status_code == 503
    assert state.json()["error"] == "The Docker engine answered 500 to GET /info: spied"


def test_missing_socket_is_explained(serve: Callable[..., str], tmp_path: Path) -> None:
    url = serve(docker_socket=str(tmp_path / "nothing.sock"))
    state = requests.get(url + "/api/state", timeout=5)
    assert state.status_code == 503
    body = state.json()
    assert body["nodes"] == [] and body["refresh_seconds"] == 2
    assert body["error"].startswith(
        f"Docker socket {tmp_path / 'nothing.sock'} does not exist: mount it"
    )
    assert requests.get(url + "/healthz", timeout=5).text == "ok\n"


def test_a_file_that_is_no_socket_is_explained(serve: Callable[..., str], tmp_path: Path) -> None:
    plain = tmp_path / "docker.sock"
    plain.write_text("", encoding="utf-8")
    error = requests.get(serve(docker_socket=str(plain)) + "/api/state", timeout=5).json()["error"]
    assert error == f"Nothing answers on {plain}: is it a socket, and is dockerd running?"


def test_a_silent_engine_times_out_with_a_message(
    serve: Callable[..., str], tmp_path: Path
) -> None:
    silent = EngineSpy(tmp_path / "silent.sock", answer=False)
    try:
        url = serve(docker_socket=str(silent.path), engine_timeout=0.5)
        error = requests.get(url + "/api/state", timeout=5).json()["error"]
    finally:
        silent.close()
    assert error == f"The Docker engine at {silent.path} did not answer within 0.5 s."


def test_sigterm_stops_it_promptly_with_exit_0(tmp_path: Path) -> None:
    port = free_port()
    env = {"PORT": str(port), "HOST": "127.0.0.1", "DOCKER_SOCKET": str(tmp_path / "none.sock")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmviz"],
        cwd=VISUALIZER_DIR,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert "Got SIGTERM, stopping" in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
