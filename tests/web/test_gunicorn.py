"""The app as the image runs it: gunicorn with files/web/gunicorn.conf.py, over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import redis
import requests
from conftest import WEB_DIR, RedisServer, free_port, make_records, wait_for


class Gunicorn:
    def __init__(self, server: RedisServer, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(server.port),
            "NAME": "Gunicorn",
            "PORT": str(self.port),
            **env,
        }
        args = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
        args += ["--bind", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(args, cwd=WEB_DIR, env=environ)
        wait_for(self._healthy, 20, "gunicorn")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> int:
        """SIGTERM, as docker stop sends; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=10)


@pytest.fixture
def gunicorn(redis_server: RedisServer, rdb: redis.Redis) -> Iterator[Gunicorn]:
    server = Gunicorn(redis_server, DATA_MAX_BYTES="2000000")
    yield server
    server.stop()


def test_counter_page_over_http(gunicorn: Gunicorn) -> None:
    first = requests.get(f"{gunicorn.url}/", timeout=5)
    second = requests.get(f"{gunicorn.url}/", timeout=5)
    assert first.status_code == 200
    assert first.text.startswith("<h3>Hello Gunicorn!</h3><b>Hostname:</b> ")
    assert first.text.endswith("<b>Visits:</b> 1")
    assert second.text.endswith("<b>Visits:</b> 2")
    assert requests.get(f"{gunicorn.url}/readyz", timeout=5).status_code == 200


def chunks(body: bytes, size: int = 10_000) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_data_over_http_also_chunked(gunicorn: Gunicorn, rdb: redis.Redis) -> None:
    records = make_records(3000)
    body = json.dumps({"meteorite_landings": records}).encode()
    response = requests.post(f"{gunicorn.url}/data", data=chunks(body), timeout=30)
    assert (response.status_code, response.json()) == (201, {"stored": 3000})
    listed = requests.get(f"{gunicorn.url}/data", timeout=30)
    assert listed.headers.get("Transfer-Encoding") == "chunked"  # streamed
    assert listed.json() == records
    assert requests.get(f"{gunicorn.url}/data/2999", timeout=5).json() == records[2998]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_limit_over_http(gunicorn: Gunicorn, rdb: redis.Redis, chunked: bool) -> None:
    requests.post(f"{gunicorn.url}/data", json=make_records(2), timeout=5)
    before = rdb.zrange("meteorite@ids", 0, -1)
    body = json.dumps(make_records(20_000)).encode()  # ~3 MB > 2 MB
    data: Any = chunks(body) if chunked else body
    try:
        response = requests.post(f"{gunicorn.url}/data", data=data, timeout=30)
        assert response.status_code == 413
        assert "DATA_MAX_BYTES" in response.json()["message"]
    except requests.ConnectionError:
        pass  # the server may close the connection before the client sent it all
    assert rdb.zrange("meteorite@ids", 0, -1) == before


def test_sigterm_exits_zero(redis_server: RedisServer) -> None:
    server = Gunicorn(redis_server)
    with requests.Session() as session:  # an open keep-alive connection
        assert session.get(f"{server.url}/", timeout=5).status_code == 200
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=10)
    assert code == 0


def test_the_date_header_is_the_time_of_the_answer(gunicorn: Gunicorn) -> None:
    # gunicorn.conf.py formats it once a second instead of for every answer.
    dates = []
    for _ in range(3):
        before = int(time.time())
        answer = requests.get(f"{gunicorn.url}/", timeout=5)
        after = time.time()
        date = parsedate_to_datetime(answer.headers["Date"]).timestamp()
        assert before <= date <= after, (answer.headers["Date"], before, after)
        dates.append(answer.headers["Date"])
        time.sleep(1.1)
    assert len(set(dates)) == 3, dates
