"""What a Sentinel split vote costs: the time to a new primary when two Sentinels vote at once.

Three Sentinels watch a primary and two replicas, all real redis-server
processes on 127.0.0.1 (as the stack's Redis nodes, with
stack_redis_failover_timeout_ms as the failover timeout). One Sentinel is
stopped (its node lost), then the primary, and the two Sentinels left are
frozen (SIGSTOP) until the primary has been gone for longer than their
down-after time, then thawed together: both take it for down at the same
moment, the condition in which each may vote for itself and neither be
elected (redis/redis#4334). A Sentinel then tries again only after twice
the failover timeout. Each try measures the seconds from the thaw until a
replica answers ROLE as a primary, and whether a Sentinel logged
-failover-abort-not-elected (a split vote); tries whose vote did not split
show the failover's own time.

The Sentinels' TILT mode (entered after a pause of the process) and the
replicas' INFO period are set with SENTINEL DEBUG so that the freeze
changes nothing but the timing of the vote. JSON goes to
bench/results/split_vote.json (--output). Needs redis-server (`make setup`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

try:
    from swarmstack_harness.http import free_port
    from swarmstack_harness.wait import wait_for
except ImportError as err:  # run with another Python than .venv's
    sys.exit(f"split-vote: {err}: run it with .venv/bin/python after `make setup`")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MASTER = "swarmstack"
DOWN_AFTER_MS = 1000
DEFAULTS = ROOT / "roles" / "stack" / "defaults" / "main.yml"


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or failed; the message says what."""


def log(message: str) -> None:
    print(f"[split-vote {time.strftime('%H:%M:%S')}] {message}", flush=True)


def project_failover_timeout() -> int:
    """stack_redis_failover_timeout_ms as roles/stack/defaults/main.yml sets it."""
    defaults = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    if "stack_redis_failover_timeout_ms" not in defaults:
        raise BenchError(f"no stack_redis_failover_timeout_ms in {DEFAULTS}")
    return int(defaults["stack_redis_failover_timeout_ms"])


def cli(port: int, *args: str, timeout: float = 5.0) -> str:
    """redis-cli's answer, or "" when the server does not answer."""
    try:
        run = subprocess.run(
            ["redis-cli", "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ""
    return run.stdout.strip() if run.returncode == 0 else ""


class Server:
    """A redis-server (or Sentinel) process on 127.0.0.1 with its own directory and log."""

    def __init__(self, workdir: Path, name: str, lines: list[str], sentinel: bool = False) -> None:
        self.name = name
        self.port = free_port()
        self.dir = workdir / name
        self.dir.mkdir()
        self.log = self.dir / "log"
        conf = self.dir / "redis.conf"
        base = [f"port {self.port}", "bind 127.0.0.1", f"dir {self.dir}", f"logfile {self.log}"]
        conf.write_text("\n".join(base + lines) + "\n", encoding="utf-8")
        args = ["redis-server", str(conf)] + (["--sentinel"] if sentinel else [])
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(f"{name} answering", lambda: cli(self.port, "PING") == "PONG", 10, 0.05)

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)


def sentinel_master(port: int) -> dict[str, str]:
    fields = cli(port, "SENTINEL", "MASTER", MASTER).splitlines()
    return dict(zip(fields[::2], fields[1::2], strict=False))


def one_try(workdir: Path, failover_timeout_ms: int, limit: float) -> dict[str, Any]:
    servers: list[Server] = []
    try:
        primary = Server(workdir, "primary", ["save ''", "appendonly no"])
        servers.append(primary)
        for n in (1, 2):
            servers.append(
                Server(workdir, f"replica{n}", ["save ''", f"replicaof 127.0.0.1 {primary.port}"])
            )
        replicas = servers[1:]
        sentinels = [
            Server(
                workdir,
                f"sentinel{n}",
                [
                    f"sentinel monitor {MASTER} 127.0.0.1 {primary.port} 2",
                    f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER} {failover_timeout_ms}",
                ],
                sentinel=True,
            )
            for n in (1, 2, 3)
        ]
        servers.extend(sentinels)
        for sentinel in sentinels:
            # No TILT after the freeze, and every replica's INFO each second,
            # so that both replicas are still good candidates at the thaw.
            cli(sentinel.port, "SENTINEL", "DEBUG", "tilt-trigger", "600000", "info-period", "1000")
        wait_for(
            "every Sentinel knowing the others and both replicas",
            lambda: all(
                (m := sentinel_master(s.port)).get("num-other-sentinels") == "2"
                and m.get("num-slaves") == "2"
                for s in sentinels
            ),
            30,
            0.2,
        )
        lost, *left = sentinels
        lost.stop()
        time.sleep(1)
        primary.stop()
        time.sleep(0.5)
        for sentinel in left:
            sentinel.signal(signal.SIGSTOP)
        time.sleep(2.5 * DOWN_AFTER_MS / 1000)
        thawed = time.monotonic()
        for sentinel in left:
            sentinel.signal(signal.SIGCONT)
        promoted = None
        while time.monotonic() - thawed < limit:
            if any(cli(r.port, "ROLE").splitlines()[:1] == ["master"] for r in replicas):
                promoted = round(time.monotonic() - thawed, 2)
                break
            time.sleep(0.05)
        aborts = sum(
            s.log.read_text(errors="replace").count("-failover-abort-not-elected") for s in left
        )
        return {"promoted_after_s": promoted, "split": aborts > 0, "not_elected_aborts": aborts}
    finally:
        for server in servers:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--failover-timeout",
        type=int,
        default=None,
        help="ms (default: stack_redis_failover_timeout_ms of roles/stack/defaults)",
    )
    parser.add_argument("--tries", type=int, default=8)
    parser.add_argument("--output", type=Path, default=RESULTS / "split_vote.json")
    args = parser.parse_args(argv)
    if args.tries < 1:
        parser.error("--tries must be 1 or more")
    if args.failover_timeout is not None and args.failover_timeout < DOWN_AFTER_MS:
        parser.error(f"--failover-timeout is in ms: {DOWN_AFTER_MS} or more (the down-after here)")
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        sys.exit("split-vote: redis-server and redis-cli are needed: run `make setup`")
    timeout_ms = args.failover_timeout or project_failover_timeout()
    # A split vote waits twice the failover timeout; a second one as long again.
    limit = 5 * timeout_ms / 1000 + 10
    tries = []
    for n in range(1, args.tries + 1):
        with tempfile.TemporaryDirectory(prefix="split-vote-") as workdir:
            result = one_try(Path(workdir), timeout_ms, limit)
        tries.append(result)
        log(
            f"try {n}/{args.tries} (failover timeout {timeout_ms} ms): "
            + ("split vote, " if result["split"] else "")
            + (
                f"a primary after {result['promoted_after_s']} s"
                if result["promoted_after_s"] is not None
                else f"no primary after {limit} s"
            )
        )
    split = [t["promoted_after_s"] for t in tries if t["split"] and t["promoted_after_s"]]
    clean = [t["promoted_after_s"] for t in tries if not t["split"] and t["promoted_after_s"]]
    summary = {
        "failover_timeout_ms": timeout_ms,
        "down_after_ms": DOWN_AFTER_MS,
        "tries": len(tries),
        "split_votes": sum(t["split"] for t in tries),
        "never_promoted": sum(t["promoted_after_s"] is None for t in tries),
        "promoted_after_split_s": {"min": min(split), "max": max(split)} if split else None,
        "promoted_without_split_median_s": round(statistics.median(clean), 2) if clean else None,
        "runs": tries,
        "redis": cli_version(),
        "cpus": os.cpu_count(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log(
        f"{summary['split_votes']} split votes in {len(tries)} tries; after one, a primary in "
        + (f"{min(split)}-{max(split)} s" if split else "(none split)")
        + f"; without, median {summary['promoted_without_split_median_s']} s. {args.output}"
    )
    return 1 if summary["never_promoted"] else 0


def cli_version() -> str:
    run = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False)
    return run.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
