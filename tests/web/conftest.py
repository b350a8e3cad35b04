"""Fixtures: a real redis-server on a free loopback port, the app and its test client."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from swarmstack_harness import ROOT as REPO
from swarmstack_harness.http import free_port
from swarmstack_harness.wait import wait_for as wait_until
from swarmstack_web import create_app

WEB_DIR = REPO / "files" / "web"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll check every 50 ms; an exception from it fails at once (a process that exited)."""
    wait_until(what, check, timeout, step=0.05, errors=())


class RedisServer:
    """A throwaway redis-server bound to 127.0.0.1."""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.port = free_port()
        self.password = password
        args = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        args += ["--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"]
        if password:
            args += ["--requirepass", password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        wait_for(self._answers, 10, f"redis-server on port {self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, decode_responses=True)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}")
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def rdb(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    client.flushall()
    yield client
    client.flushall()


def app_config(server: RedisServer, **extra: Any) -> dict[str, Any]:
    return {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": server.port, "TESTING": True, **extra}


@pytest.fixture
def app(redis_server: RedisServer, rdb: redis.Redis) -> Flask:
    return create_app(app_config(redis_server, NAME="World", DATA_FILE=""))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def dump(client: redis.Redis) -> dict[str, Any]:
    """Every key of the database with its type, value and whether it expires."""
    readers = {
        "string": client.get,
        "hash": client.hgetall,
        "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        "list": lambda k: client.lrange(k, 0, -1),
        "set": client.smembers,
    }
    return {
        key: (kind, readers[kind](key), client.ttl(key) >= 0)
        for key in client.scan_iter(count=1000)
        for kind in [client.type(key)]
    }


def make_records(count: int, start: int = 1) -> list[dict[str, str]]:
    """Records shaped like the real data file's."""
    return [
        {
            "name": f"Meteorite {n}",
            "id": str(n),
            "recclass": "L5",
            "mass (g)": str(n * 3),
            "reclat": f"{n % 90}.5",
            "reclong": f"-{n % 180}.25",
            "GeoLocation": f"({n % 90}.5, -{n % 180}.25)",
        }
        for n in range(start, start + count)
    ]
