"""How redis-node.sh's watchdogs read Redis' replies, against a real primary, replica and Sentinel.

read_replication (INFO replication: role, link, syncing) and read_master
(SENTINEL MASTER: flags, reported, mine) parse with the shell's own means,
every 2 s on every server for as long as it runs; note writes the server's
note only when it changes. Run by /bin/sh as in the images, on replies that
redis-cli printed, CRs and all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarmstack_harness.http import free_port
from swarmstack_harness.wait import wait_for
from test_redis_start_order import function

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
HELPERS = ["cr=$(printf '\\r')"]


def cli(port: int, *command: str) -> str:
    """What redis-cli prints for a command, as the watchdogs get it (not a tty)."""
    # Bytes, decoded by hand: text mode would turn INFO's CRLF line ends into LF.
    run = subprocess.run([REDIS_CLI, "-p", str(port), *command], capture_output=True, timeout=10)
    assert run.returncode == 0, run.stderr
    return run.stdout.decode()


def shell(*lines: str, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(
        ["/bin/sh", "-c", "\n".join(["set -eu", *HELPERS, *lines])],
        capture_output=True,
        text=True,
        env=None if env is None else {"PATH": os.environ["PATH"], **env},
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


class Nodes:
    """A primary, its replica, a Sentinel monitoring the primary, and a replica cut off.

    On loopback ports; the cut-off replica's primary is a port where nothing listens.
    """

    def __init__(self, workdir: Path) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.primary, self.replica, self.sentinel = free_port(), free_port(), free_port()
        self.cut_off = free_port()
        common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        for port, extra in (
            (self.primary, []),
            (self.replica, ["--replicaof", "127.0.0.1", str(self.primary)]),
            (self.cut_off, ["--replicaof", "127.0.0.1", str(free_port())]),
        ):
            directory = workdir / str(port)
            directory.mkdir()
            self.start(
                [REDIS_SERVER, "--port", str(port), "--dir", str(directory), *common, *extra]
            )
        conf = workdir / "sentinel.conf"
        conf.write_text(
            f"port {self.sentinel}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor swarmstack 127.0.0.1 {self.primary} 1\n"
        )
        self.start([REDIS_SERVER, str(conf), "--sentinel"])
        wait_for(
            "the replica in sync",
            lambda: "master_link_status:up" in cli(self.replica, "INFO", "replication"),
            20,
        )
        wait_for("the cut-off replica answers", lambda: cli(self.cut_off, "PING") == "PONG\n", 10)

    def start(self, args: list[str]) -> None:
        self.processes.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    running = Nodes(tmp_path_factory.mktemp("redis-node"))
    try:
        yield running
    finally:
        running.stop()


def read_replication(reply: str) -> str:
    return shell(
        function("read_replication"),
        'read_replication "$REPLY_TEXT"',
        'printf "%s|%s|%s" "$role" "$link" "$syncing"',
        env={"REPLY_TEXT": reply},
    )


def test_read_replication_of_a_primary_and_a_replica(nodes: Nodes) -> None:
    primary = cli(nodes.primary, "INFO", "replication")
    replica = cli(nodes.replica, "INFO", "replication")
    assert "\r" in primary and "\r" in replica  # what the parsing must cut
    assert read_replication(primary) == "master||"
    assert read_replication(replica) == "slave|up|0"


def test_read_replication_of_a_replica_cut_off(nodes: Nodes) -> None:
    assert read_replication(cli(nodes.cut_off, "INFO", "replication")) == "slave|down|0"


def test_read_master_names_the_primary_a_sentinel_monitors(nodes: Nodes) -> None:
    reply = cli(nodes.sentinel, "SENTINEL", "MASTER", "swarmstack")
    out = shell(
        function("read_master"),
        'read_master "$REPLY_TEXT"',
        'printf "%s|%s|%s" "$flags" "$reported" "$mine"',
        env={"REPLY_TEXT": reply},
    )
    assert out == "master|master|127.0.0.1"


def test_read_master_of_nothing_sets_nothing() -> None:
    out = shell(
        function("read_master"), 'read_master ""', 'printf "%s|%s|%s" "$flags" "$reported" "$mine"'
    )
    assert out == "||"


def test_note_writes_only_a_change(tmp_path: Path) -> None:
    marker = tmp_path / "sync"
    out = shell(
        f"marker={marker}",
        'noted=""',
        function("note"),
        "note behind",
        f"echo edited > {marker}",
        # The same note again is not written: the edit stays.
        "note behind",
        f'echo "after the same: $(cat {marker})"',
        "note in-sync",
        f'echo "after a change: $(cat {marker})"',
    )
    assert out.splitlines() == ["after the same: edited", "after a change: in-sync"]
    assert not (tmp_path / "sync.new").exists()
