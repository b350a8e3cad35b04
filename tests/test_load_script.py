"""verify's load.py against a local HTTP server that counts like the web app.

The operations tests and verify's drills send their load with it: what it
counts must be what the server answered, `--interval` must hold each client
to its rate (a flood takes the CPU the operation under test needs), and
SIGTERM must end it early with the JSON still printed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

LOAD = Path(__file__).resolve().parents[1] / "roles" / "verify" / "files" / "load.py"


class Counting(BaseHTTPRequestHandler):
    visits = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with Counting.lock:
            Counting.visits += 1
            body = f"<h3>Hello World!</h3><b>Hostname:</b> t1<br/><b>Visits:</b> {Counting.visits}"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    Counting.visits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def run(url: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(LOAD), *args, url], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_every_answer_is_counted_and_the_highest_count_is_the_servers(url: str) -> None:
    out = run(url, "--clients", "3", "--seconds", "1", "--max-requests", "300")
    assert out["total"] == out["ok"] == out["pages"]["counted"] == Counting.visits
    assert out["max_visits"] == Counting.visits
    assert out["uncounted"] == {}


def test_an_interval_holds_each_client_to_its_rate(url: str) -> None:
    paced = run(url, "--clients", "2", "--seconds", "2", "--interval", "0.1")
    # 2 clients x 2 s / 0.1 s: 40 at the most (the first request waits an interval).
    assert 30 <= paced["total"] <= 40, paced
    flood = run(url, "--clients", "2", "--seconds", "1")
    assert flood["total"] > 2 * paced["total"], (flood, paced)


def test_sigterm_ends_a_long_run_with_the_json(url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(LOAD), "--seconds", "600", "--interval", "0.05", url],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert time.monotonic() - started < 2
    answers = json.loads(out)
    assert answers["total"] == answers["ok"] > 0
    assert answers["seconds"] < 5


@pytest.mark.parametrize("value", ["-0.05", "nan", "inf", "soon"])
def test_an_interval_that_is_no_pause_is_refused_before_any_request(url: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, str(LOAD), "--seconds", "1", "--interval", value, url],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done
    assert "--interval" in done.stderr
    assert Counting.visits == 0
