"""A real snapshot of a real redis-server, and a backup entry holding it as backup.yml does."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
COUNTER = 4242
RECORDS = 25


class LocalRedis:
    """A redis-server on a Unix socket in a directory of its own, with the given options."""

    def __init__(self, where: Path, *options: str) -> None:
        if not Path(REDIS_SERVER).exists():
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.where = where
        self.socket = where / "redis.sock"
        where.mkdir(parents=True, exist_ok=True)
        argv = [REDIS_SERVER, "--port", "0", "--unixsocket", str(self.socket), "--dir", str(where)]
        self.process = subprocess.Popen(
            [*argv, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while self.cli("PING") != "PONG":
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server in {where} did not answer")
            time.sleep(0.05)

    def cli(self, *args: str) -> str:
        argv = [REDIS_CLI, "-s", str(self.socket), *args]
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()

    def stop(self) -> None:
        self.cli("SHUTDOWN")
        self.process.wait(timeout=10)


def make_snapshot(where: Path) -> Path:
    """A dump.rdb holding the counter and the web app's records, as a stack's Redis has them."""
    redis = LocalRedis(where, "--appendonly", "no", "--save", "")
    redis.cli("SET", "counter", str(COUNTER))
    for n in range(RECORDS):
        redis.cli("HSET", f"meteorite:{n}", "name", f"Rock {n}", "id", str(n))
        redis.cli("ZADD", "meteorite@ids", str(n), str(n))
    redis.cli("SAVE")
    redis.stop()
    return where / "dump.rdb"


def write_entry(snapshot: Path, backups: Path, stack: str = "swarmstack") -> Path:
    """An entry of backup_dir as backup.yml writes one: the snapshot and its manifest."""
    folder = backups / f"{stack}-20261202T120000Z"
    folder.mkdir(mode=0o700, parents=True)
    data = snapshot.read_bytes()
    (folder / "dump.rdb").write_bytes(data)
    manifest = {
        "format": "swarmstack-backup 1",
        "stack": stack,
        "inventory": "lab",
        "time": "2026-12-02T12:00:00Z",
        "redis_version": "7.0.15",
        "persistence": "aof",
        "source": "replica on vCon02",
        "counter_key": "counter",
        "counter": COUNTER,
        "records": RECORDS,
        "keys": RECORDS + 2,
        "file": "dump.rdb",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder
