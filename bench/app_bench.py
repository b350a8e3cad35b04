"""Benchmarks of the web app, side by side with the tutorial app (run by `make bench`).

1. GET /: requests/s and p50/p99 latency of files/web (gunicorn, several worker
   settings) and of bench/tutorial_app.py (Flask's development server), each in a
   container limited like the stack's web replicas (--cpus 0.1 --memory 50m), with the
   same number of keep-alive clients for the same time.
2. POST /data of 45,716 generated records: files/web under gunicorn against the
   tutorial's one-HSET-per-record loader, both on this host without limits.
3. POST and GET /data of 45,716 and 200,000 records in the limited web container:
   time and peak memory of the container (cgroup), and whether it survived.

Traffic goes only to 127.0.0.1 and to the containers this script starts on its own
network; every loop is bounded in time. Figures go to bench/results/app_bench.{json,md}.
Needs a docker engine, the base image (SWARMSTACK_BASE_IMAGE, default
swarmstack/base:bookworm), /usr/bin/redis-server and the repo's .venv.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

try:
    from swarmstack_harness import ROOT as REPO
    from swarmstack_harness.engine import base_image_name
    from swarmstack_harness.http import free_port
    from swarmstack_harness.http import request as http_request
    from swarmstack_harness.wait import wait_for
except ImportError as err:  # run with another Python than .venv's
    sys.exit(f"app-bench: {err}: run it with .venv/bin/python after `make setup`")

RESULTS = REPO / "bench" / "results"
BASE_IMAGE = base_image_name()
IMAGES = {
    "web": ("swarmstack-bench/web:latest", REPO / "files" / "web", None),
    "redis": ("swarmstack-bench/redis:latest", REPO / "files" / "redis", None),
    "tutorial": ("swarmstack-bench/tutorial:latest", REPO / "bench", "tutorial.Dockerfile"),
}
LIMITS = ["--cpus", "0.1", "--memory", "50m"]
WEB_VARIANTS = {  # GUNICORN_CMD_ARGS on top of files/web/gunicorn.conf.py
    "gunicorn gthread 1 worker x 4 threads (image default)": "",
    "gunicorn gthread 1 worker x 1 thread": "--threads 1",
    "gunicorn sync 1 worker": "--worker-class sync",
    "gunicorn gthread 2 workers x 2 threads": "--workers 2 --threads 2",
}
SAMPLE_RECORDS = 45_716
BIG_RECORDS = 200_000


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def make_records(count: int) -> list[dict[str, str]]:
    """Records shaped like the Meteorite Landings file's (every value a string)."""
    return [
        {
            "name": f"Meteorite {n}",
            "id": str(n),
            "nametype": "Valid",
            "recclass": ("L5", "H6", "EH4", "LL6")[n % 4],
            "mass (g)": str(n * 3 % 100_000),
            "fall": "Fell",
            "year": f"{1800 + n % 220}-01-01T00:00:00.000",
            "reclat": f"{n % 90}.{n % 1000:03d}",
            "reclong": f"-{n % 180}.{n % 997:03d}",
            "GeoLocation": f"({n % 90}.{n % 1000:03d}, -{n % 180}.{n % 997:03d})",
        }
        for n in range(1, count + 1)
    ]


def body_of(count: int) -> bytes:
    return json.dumps({"meteorite_landings": make_records(count)}).encode()


def wait_until(check: Any, timeout: float, what: str) -> None:
    """Poll check every 0.2 s until it is true; an OSError from it counts as "not yet"."""
    wait_for(what, check, timeout, step=0.2, errors=(OSError,))


# --- HTTP -------------------------------------------------------------------------------


def request(
    host: str, port: int, method: str, path: str, body: bytes | None = None, timeout: float = 600
) -> tuple[int, bytes, float]:
    """One request on a new connection: status, body, seconds."""
    answer = http_request(f"http://{host}:{port}{path}", method, body, timeout)
    return answer.status, answer.body, answer.seconds


def answers(host: str, port: int, path: str = "/") -> bool:
    try:
        return request(host, port, "GET", path, timeout=2)[0] == 200
    except (OSError, http.client.HTTPException):
        return False


class LoadClient(threading.Thread):
    """One keep-alive client sending GET requests until the deadline."""

    def __init__(self, host: str, port: int, path: str, start: float, end: float) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.path, self.start_at, self.end = host, port, path, start, end
        self.latencies: list[float] = []
        self.errors = 0

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while (now := time.perf_counter()) < self.end:
            try:
                conn = conn or http.client.HTTPConnection(self.host, self.port, timeout=10)
                conn.request("GET", self.path)
                response = conn.getresponse()
                ok = response.status == 200 and b"Visits:" in response.read()
                if now >= self.start_at:  # the first seconds only warm up
                    self.latencies.append(time.perf_counter() - now)
                    self.errors += not ok
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                self.errors += now >= self.start_at
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn:
            conn.close()


def load_test(host: str, port: int, clients: int, duration: float, warmup: float) -> dict:
    start = time.perf_counter() + warmup
    threads = [LoadClient(host, port, "/", start, start + duration) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(warmup + duration + 30)
    latencies = sorted(lat for thread in threads for lat in thread.latencies)
    errors = sum(thread.errors for thread in threads)
    if not latencies:
        return {"requests": 0, "errors": errors, "rps": 0.0}
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / duration, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
    }


# --- Docker ----------------------------------------------------------------------------


def docker(*args: str, check: bool = True, timeout: float = 900) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode:
        raise RuntimeError(f"docker {' '.join(args[:3])}...: {result.stderr.strip()}")
    return result.stdout.strip()


def build_images() -> None:
    for name, (tag, context, dockerfile) in IMAGES.items():
        log(f"building the {name} image ({tag}) from {BASE_IMAGE}")
        extra = ["-f", str(context / dockerfile)] if dockerfile else []
        docker(
            "build",
            "-q",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            tag,
            *extra,
            str(context),
        )


class Container:
    """A container on the bench network; its cgroup v1 memory files when there are any."""

    def __init__(
        self,
        network: str,
        name: str,
        image: str,
        *args: str,
        env: dict[str, str] | None = None,
        alias: str | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.name = name
        options = ["--network", network, *(["--network-alias", alias] if alias else [])]
        for key, value in (env or {}).items():
            options += ["-e", f"{key}={value}"]
        docker("run", "-d", "--name", name, *options, *args, image, *(command or []))
        self.id = docker("inspect", "-f", "{{.Id}}", name)
        networks = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", name))
        self.ip = networks[network]["IPAddress"]
        self._cgroup = Path("/sys/fs/cgroup/memory/docker") / self.id

    def reset_peak(self) -> None:
        peak = self._cgroup / "memory.max_usage_in_bytes"
        if peak.exists():
            with suppress(OSError):
                peak.write_text("0")

    def peak_mib(self) -> float | None:
        peak = self._cgroup / "memory.max_usage_in_bytes"
        if not peak.exists():
            return None
        return round(int(peak.read_text()) / 2**20, 1)

    def usage_mib(self) -> float | None:
        usage = self._cgroup / "memory.usage_in_bytes"
        return round(int(usage.read_text()) / 2**20, 1) if usage.exists() else None

    def state(self) -> dict[str, Any]:
        state = json.loads(docker("inspect", "-f", "{{json .State}}", self.name))
        return {
            "running": state["Running"],
            "oom_killed": state["OOMKilled"],
            "exit_code": state["ExitCode"],
        }

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False)


@contextmanager
def bench_network() -> Iterator[tuple[str, list[Container]]]:
    network = f"swarmstack-bench-{uuid.uuid4().hex[:8]}"
    docker("network", "create", network)
    containers: list[Container] = []
    try:
        yield network, containers
    finally:
        for container in containers:
            container.remove()
        docker("network", "rm", network, check=False)


def start_limited(
    network: str, containers: list[Container], name: str, image: str, env: dict[str, str]
) -> Container:
    container = Container(network, name, image, *LIMITS, env=env)
    containers.append(container)
    wait_until(lambda: answers(container.ip, 8000, "/"), 90, name)
    return container


def start_redis(network: str, containers: list[Container]) -> Container:
    """A throwaway Redis without persistence, reachable as `redis` on the network."""
    redis = Container(
        network,
        f"{network}-redis",
        IMAGES["redis"][0],
        alias="redis",
        command=["redis-server", "--appendonly", "no", "--save", ""],
    )
    containers.append(redis)
    return redis


# --- 1. GET / at 0.1 CPU ------------------------------------------------------------------


def bench_counter_page(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    with bench_network() as (network, containers):
        start_redis(network, containers)
        targets = [("tutorial app, Flask development server", IMAGES["tutorial"][0], {})]
        targets += [
            (label, IMAGES["web"][0], {"GUNICORN_CMD_ARGS": extra})
            for label, extra in WEB_VARIANTS.items()
        ]
        for number, (label, image, env) in enumerate(targets):
            log(f"GET / for {args.duration:.0f} s with {args.clients} clients: {label}")
            container = start_limited(
                network,
                containers,
                f"{network}-app{number}",
                image,
                {"REDIS_HOST": "redis", "PORT": "8000", **env},
            )
            container.reset_peak()
            result = load_test(container.ip, 8000, args.clients, args.duration, args.warmup)
            rows.append(
                {"server": label, **result, "peak_mib": container.peak_mib(), **container.state()}
            )
            log(f"  {rows[-1]}")
            container.remove()
    return rows


# --- 2. POST /data on the host ---------------------------------------------------------


@contextmanager
def host_redis() -> Iterator[int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_until(
                lambda: socket.create_connection(("127.0.0.1", port), 1).close() or True,
                20,
                "redis-server",
            )
            yield port
        finally:
            process.terminate()
            process.wait(20)


@contextmanager
def host_server(args: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[None]:
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: answers("127.0.0.1", port, "/healthz" if "gunicorn" in args else "/"),
            60,
            " ".join(args[:3]),
        )
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def flush(redis_port: int) -> None:
    subprocess.run(
        ["redis-cli", "-p", str(redis_port), "flushall"], capture_output=True, check=True
    )


def bench_load_on_host(args: argparse.Namespace) -> dict[str, Any]:
    python = str(REPO / ".venv" / "bin" / "python")
    body = body_of(SAMPLE_RECORDS)
    result: dict[str, Any] = {"records": SAMPLE_RECORDS, "body_mib": round(len(body) / 2**20, 1)}
    with host_redis() as redis_port:
        env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_port)}
        port = free_port()
        gunicorn = [
            python,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
        ]
        with host_server(gunicorn, REPO / "files" / "web", env, port):
            runs = []
            for _ in range(args.repeat):
                flush(redis_port)
                status, answer, seconds = request("127.0.0.1", port, "POST", "/data", body)
                runs.append(round(seconds, 3))
                assert status == 201 and json.loads(answer)["stored"] == SAMPLE_RECORDS, answer
            status, answer, seconds = request("127.0.0.1", port, "GET", "/data")
            assert status == 200 and len(json.loads(answer)) == SAMPLE_RECORDS
            result["web_post_s"] = runs
            result["web_post_best_s"] = min(runs)
            result["web_get_s"] = round(seconds, 3)
            log(f"  files/web POST /data {runs} s, GET /data {seconds:.2f} s")
        port = free_port()
        tutorial = [python, str(REPO / "bench" / "tutorial_app.py")]
        with host_server(tutorial, REPO / "bench", {**env, "PORT": str(port)}, port):
            flush(redis_port)
            status, answer, seconds = request("127.0.0.1", port, "POST", "/data", body)
            assert status == 201 and json.loads(answer)["stored"] == SAMPLE_RECORDS, answer
            result["tutorial_post_s"] = round(seconds, 3)
            log(f"  tutorial POST /data (one HSET per record) {seconds:.2f} s")
    result["speedup"] = round(result["tutorial_post_s"] / result["web_post_best_s"], 1)
    return result


# --- 3. /data in the limited container -----------------------------------------------------


def bench_data_in_container(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    with bench_network() as (network, containers):
        start_redis(network, containers)
        web = start_limited(
            network, containers, f"{network}-web", IMAGES["web"][0], {"REDIS_HOST": "redis"}
        )
        for count in (SAMPLE_RECORDS, *([BIG_RECORDS] if args.big else [])):
            body = body_of(count)
            for method in ("POST", "GET"):
                log(f"{method} /data of {count} records in the limited web container")
                web.reset_peak()
                status, answer, seconds = request(
                    web.ip, 8000, method, "/data", body if method == "POST" else None
                )
                size = len(answer) if method == "GET" else len(body)
                check = (
                    json.loads(answer) == {"stored": count}
                    if method == "POST"
                    else len(json.loads(answer)) == count
                )
                rows.append(
                    {
                        "records": count,
                        "method": method,
                        "status": status,
                        "correct": check and status in (200, 201),
                        "seconds": round(seconds, 2),
                        "mib": round(size / 2**20, 1),
                        "peak_mib": web.peak_mib(),
                        **web.state(),
                    }
                )
                log(f"  {rows[-1]}")
                del answer
    return rows


# --- Report ------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# App benchmark",
        "",
        f"{report['date']} on {report['machine']}; containers limited to "
        f"`{' '.join(LIMITS)}`; {report['clients']} keep-alive clients, "
        f"{report['duration']} s each after {report['warmup']} s warm-up.",
        "",
        "## GET / at 0.1 CPU",
        "",
        "| server | req/s | p50 ms | p99 ms | errors | peak MiB | OOM-killed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in report["counter_page"]:
        lines.append(
            f"| {row['server']} | {row['rps']} | {row.get('p50_ms', '-')} | "
            f"{row.get('p99_ms', '-')} | {row['errors']} | {row['peak_mib']} | "
            f"{row['oom_killed']} |"
        )
    load = report["load_on_host"]
    lines += [
        "",
        f"## POST /data of {load['records']} records ({load['body_mib']} MiB), host, no limits",
        "",
        f"- files/web under gunicorn: {load['web_post_s']} s (best {load['web_post_best_s']} s);"
        f" GET /data {load['web_get_s']} s",
        f"- tutorial app, one HSET round trip per record: {load['tutorial_post_s']} s",
        f"- speed-up: {load['speedup']}x",
        "",
        "## /data in the web container at 0.1 CPU and 50m",
        "",
        "| records | request | status | correct | seconds | body MiB | peak MiB | running after |",
        "| ---: | --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for row in report["data_in_container"]:
        lines.append(
            f"| {row['records']} | {row['method']} /data | {row['status']} | {row['correct']} | "
            f"{row['seconds']} | {row['mib']} | {row['peak_mib']} | {row['running']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per server")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3, help="POST /data runs on the host")
    parser.add_argument(
        "--no-big",
        dest="big",
        action="store_false",
        help=f"skip the {BIG_RECORDS}-record run in the container",
    )
    args = parser.parse_args()
    for tool in ("docker", "redis-server", "redis-cli"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found", file=sys.stderr)
            return 2
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode:
        print(f"bench: base image {BASE_IMAGE} absent (set SWARMSTACK_BASE_IMAGE)", file=sys.stderr)
        return 2
    build_images()
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "clients": args.clients,
        "duration": args.duration,
        "warmup": args.warmup,
    }
    report["counter_page"] = bench_counter_page(args)
    log(f"POST /data of {SAMPLE_RECORDS} records on the host")
    report["load_on_host"] = bench_load_on_host(args)
    report["data_in_container"] = bench_data_in_container(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "app_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "app_bench.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
