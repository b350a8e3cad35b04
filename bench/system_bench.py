"""System benchmarks on a lab of our own (run by `make bench`, after bench/app_bench.py).

In one run, on the lab of inventory/bench (containers swarmstack-bench-vCon01..03 on
172.30.59.0/24, made and removed here with playbooks/lab.yml, so `make lab` is never
touched):

1. Convergence: site.yml cold (fresh nodes, images cached on this machine in
   ~/.cache/swarmstack), warm (nothing to do: changed counts recorded), warm without the
   project's Ansible tuning (no pipelining, no ControlPersist, gathering=implicit,
   forks 5), warm tuned again; then the seed's manual sequence scripted over SSH on fresh
   nodes (swarm init/join, docker load of the same images, stack deploy of the same
   compose file) until port 80 answers on every node.
2. GET / end to end through port 80 of every node (wrk, one thread per node): this stack
   (gunicorn), the same stack with web running bench/tutorial_app.py (Flask's development
   server; same replicas and limits), then this stack again, in the same run.
2b. With Redis replicated (the default on three nodes): GET / as in 2 with every visit
   waiting for a replica (WAIT 1), with a single Redis, and replicated again; then the
   Redis primary's node container killed whole under load on the other two nodes: the
   longest stretch without a counted visit, and the counter and records once it is back.
3. POST /data of 1k, 10k, 45,716 and 200k records (the real Meteorite Landings records,
   repeated with new ids) through port 80: time, Redis memory (INFO memory in the redis
   task), the web replicas' peak memory; against a loop of one HSET per record over a
   redis-py connection in a container sharing a web task's network, with a replica's
   limits.

Traffic goes only to this machine's bench lab. JSON, Markdown and PNG plots go to
bench/results/. `--quick` (or BENCH_QUICK=1) uses small sizes and short runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml

try:
    from swarmstack_harness import BIN
    from swarmstack_harness import ROOT as REPO
    from swarmstack_harness.ansible import run_playbook
    from swarmstack_harness.engine import base_image_name
    from swarmstack_harness.http import CONNECTION_ERRORS
    from swarmstack_harness.http import request as harness_request
    from swarmstack_harness.lab import Lab, LabError, LabNode
    from swarmstack_harness.wait import wait_for
except ImportError as err:  # run with another Python than .venv's
    sys.exit(f"system-bench: {err}: run it with .venv/bin/python after `make setup`")

RESULTS = REPO / "bench" / "results"
INVENTORY = REPO / "inventory" / "bench"
DATA_FILE = Path(
    os.environ.get(
        "SWARMSTACK_DATA_FILE", REPO.parent / "shared" / "data" / "Meteorite_Landings.json"
    )
)
IMAGE_CACHE = Path.home() / ".cache" / "swarmstack" / "images"
BASE_IMAGE = base_image_name()
TUTORIAL_IMAGE = "swarmstack-bench/tutorial:latest"
STACK = "swarmstack"
PHASES = ("converge", "post", "get", "replication", "manual")
UNTUNED = {  # what the project's ansible.cfg tunes, set back to Ansible's usual behaviour
    "ANSIBLE_PIPELINING": "False",
    "ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o ServerAliveInterval=15",
    "ANSIBLE_GATHERING": "implicit",
    "ANSIBLE_FORKS": "5",
}
LOOP_CLIENT = """
import json, socket, sys, time
from redis import Redis
password = sys.stdin.readline().rstrip("\\n")
prefix = sys.argv[1]
# "redis" names every Redis server (dnsrr): with replicas, only the primary
# takes writes, so the loop writes to the one whose role is master.
addresses = sorted({a[4][0] for a in socket.getaddrinfo("redis", 6379, type=socket.SOCK_STREAM)})
servers = [Redis(host=a, password=password or None, socket_timeout=30) for a in addresses]
masters = [r for r in servers if r.info("replication")["role"] == "master"]
if len(masters) != 1:
    sys.exit(f"bench-loop: {len(masters)} primaries among the Redis servers {addresses}")
redis = masters[0]
stored = 0
started = time.perf_counter()
for line in sys.stdin:
    record = json.loads(line)
    redis.hset(prefix + record["id"], mapping=record)
    stored += 1
seconds = time.perf_counter() - started
memory = redis.info("memory")
print(json.dumps({"stored": stored, "seconds": seconds, "used_memory": memory["used_memory"]}))
sys.stdout.flush()
keys = []
for key in redis.scan_iter(match=prefix + "*", count=1000):
    keys.append(key)
    if len(keys) == 1000:
        redis.unlink(*keys)
        keys = []
if keys:
    redis.unlink(*keys)
"""
WRK_SCRIPT = """
local nodes = {%s}
local made = 0
function setup(thread)
  made = made + 1
  thread.addr = wrk.lookup(nodes[(made - 1) %% #nodes + 1], "%d")[1]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "mean_us": %%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or failed; the message says what."""


def log(message: str) -> None:
    print(f"[system-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- The machine and its load -------------------------------------------------------------


class LoadSampler(threading.Thread):
    """The 1-minute load average every few seconds, labelled with the running phase."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.phase, self.samples = every, "start", []
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            load1 = float(Path("/proc/loadavg").read_text().split()[0])
            self.samples.append((self.phase, load1))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()

    def summary(self) -> dict[str, dict[str, float]]:
        phases: dict[str, list[float]] = {}
        for phase, load1 in self.samples:
            phases.setdefault(phase, []).append(load1)
        every = [load for loads in phases.values() for load in loads]
        phases["whole run"] = every
        return {
            phase: {
                "min": min(loads),
                "mean": round(sum(loads) / len(loads), 2),
                "max": max(loads),
                "samples": len(loads),
            }
            for phase, loads in phases.items()
            if loads
        }


def machine() -> dict[str, Any]:
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    release = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    git = ["git", "-C", str(REPO)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(meminfo["MemTotal"].split()[0]) / 2**20, 1),
        "kernel": platform.release(),
        "os": release.get("PRETTY_NAME", "").strip('"'),
        "docker": run(["docker", "version", "-f", "{{.Server.Version}}"]).strip(),
        "commit": commit.stdout.strip(),
        "uncommitted_files": len(dirty.stdout.splitlines()),
    }


# --- Processes ----------------------------------------------------------------------------


def run(
    argv: list[str],
    *,
    input_data: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    check: bool = True,
) -> str:
    result = subprocess.run(
        argv,
        input=input_data,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    if check and result.returncode:
        raise BenchError(
            f"{' '.join(argv[:4])} ... failed ({result.returncode}): "
            f"{result.stderr.decode(errors='replace').strip()[-2000:]}"
        )
    return result.stdout.decode(errors="replace")


Node = LabNode


class BenchLab(Lab):
    """The bench lab as inventory/bench describes it; every playbook run logged and timed."""

    logs: Path
    runs: list[dict[str, Any]]

    @classmethod
    def from_bench_inventory(cls, logs: Path) -> BenchLab:
        lab = cls.from_inventory(INVENTORY)
        if not lab.hosts or not lab.hosts[0].manager:
            raise BenchError(f"{INVENTORY}/hosts.yml must list managers first, then workers")
        lab.logs, lab.runs = logs, []
        return lab

    def playbook(self, label: str, playbook: str, *extra: str, env: dict[str, str] | None = None):
        """Run one playbook against the bench inventory; seconds and the recap."""
        with tempfile.TemporaryDirectory(prefix="sbcp-", dir="/tmp") as control:
            result = run_playbook(
                playbook,
                INVENTORY,
                *extra,
                env={
                    "PATH": f"{BIN}:{os.environ['PATH']}",
                    # Per-task times at the end of each log in bench/results/logs/.
                    "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
                    # Every run opens its own SSH connections: none inherited from the run before.
                    "ANSIBLE_SSH_CONTROL_PATH_DIR": control,
                    **(env or {}),
                },
                timeout=3600,
            )
        log_file = self.logs / f"{label}.log"
        log_file.write_text(result.output)
        recap = result.recap()
        if result.rc:
            raise BenchError(f"{playbook} ({label}) failed; see {log_file}")
        entry = {
            "run": label,
            "seconds": round(result.seconds, 1),
            "changed": sum(host["changed"] for host in recap.values()),
            "recap": recap,
        }
        self.runs.append(entry)
        log(f"  {label}: {entry['seconds']} s, changed={entry['changed']}")
        return entry

    def down(self) -> None:  # type: ignore[override]
        self.playbook("lab-down", "playbooks/lab.yml", "-e", "lab_state=absent")

    def fresh(self, label: str) -> None:
        log(f"making fresh lab nodes ({label})")
        self.down()
        self.playbook(label, "playbooks/lab.yml")

    def containers(self, node: Node, service: str) -> list[str]:
        out = self.ssh(
            node,
            "docker ps -q --no-trunc --filter "
            f"label=com.docker.swarm.service.name={STACK}_{service}",
        )
        return out.split()

    def find(self, service: str) -> list[tuple[Node, str]]:
        with ThreadPoolExecutor(len(self.hosts)) as pool:
            found = pool.map(lambda node: (node, self.containers(node, service)), self.hosts)
        return [(node, cid) for node, ids in found for cid in ids]


# --- HTTP ---------------------------------------------------------------------------------


def request(
    address: str, method: str, path: str, body: bytes | None = None, timeout: float = 900
) -> tuple[int, bytes, dict[str, str], float]:
    """One request to port 80 of a node: status, body, headers and seconds."""
    answer = harness_request(f"http://{address}{path}", method, body, timeout=timeout)
    return answer.status, answer.body, answer.headers, answer.seconds


def page_ok(address: str) -> bool:
    try:
        status, body, _, _ = request(address, "GET", "/", timeout=3)
    except CONNECTION_ERRORS:
        return False
    return status == 200 and b"Hello" in body and b"Visits:</b> " in body


def wait_until(check: Any, timeout: float, what: str, every: float = 0.5) -> None:
    """wait_for whose probe's errors stop the bench at once, and whose time-out is a BenchError."""
    try:
        wait_for(what, check, timeout, every, errors=())
    except TimeoutError:
        raise BenchError(f"{what}: not within {timeout:.0f} s") from None


# --- Redis and the web replicas -----------------------------------------------------------


REDIS_AUTH = "REDISCLI_AUTH=$(sed -n 's/^requirepass \"\\(.*\\)\"$/\\1/p' /run/secrets/redis.conf)"


def in_redis(lab: BenchLab, node: Node, cid: str, *args: str) -> str:
    """redis-cli in one redis task, with the password read there from its secret."""
    inner = f"{REDIS_AUTH} exec redis-cli {shlex.join(args)}"
    return lab.ssh(node, f"docker exec {cid} sh -c {shlex.quote(inner)}")


def redis_servers(lab: BenchLab) -> list[tuple[Node, str, str]]:
    """Every Redis server task: its node, its container and its role (master or slave)."""
    return [
        (node, cid, in_redis(lab, node, cid, "ROLE").split("\n", 1)[0].strip())
        for node, cid in lab.find("redis")
    ]


def redis_cli(lab: BenchLab, *args: str) -> str:
    """redis-cli in the primary's task (the only server with a single Redis)."""
    servers = redis_servers(lab)
    node, cid, _ = next((s for s in servers if s[2] == "master"), servers[0])
    return in_redis(lab, node, cid, *args)


def redis_memory(lab: BenchLab) -> dict[str, int]:
    info = dict(
        line.split(":", 1)
        for line in redis_cli(lab, "INFO", "memory").splitlines()
        if ":" in line and not line.startswith("#")
    )
    return {key: int(info[key]) for key in ("used_memory", "used_memory_peak", "used_memory_rss")}


def redis_counter(lab: BenchLab) -> int:
    value = redis_cli(lab, "GET", "counter").strip()
    return int(value) if value else 0


def web_cgroups(lab: BenchLab) -> list[Path]:
    """The cgroup v1 memory directories of the web tasks; they are this machine's too (the
    lab nodes share the host's cgroup tree), so the peaks can be read and reset here."""
    root = Path("/sys/fs/cgroup/memory/docker")
    return [root / cid for _, cid in lab.find("web") if (root / cid).is_dir()]


def reset_peaks(groups: list[Path]) -> None:
    for group in groups:
        with suppress(OSError):
            (group / "memory.max_usage_in_bytes").write_text("0")


def read_peaks(groups: list[Path]) -> dict[str, Any]:
    peaks, ooms = [], 0
    for group in groups:
        with suppress(OSError, ValueError):
            peaks.append(int((group / "memory.max_usage_in_bytes").read_text()))
            control = (group / "memory.oom_control").read_text()
            ooms += int(re.search(r"oom_kill (\d+)", control).group(1))  # type: ignore[union-attr]
    return {
        "web_peak_mib": round(max(peaks) / 2**20, 1) if peaks else None,
        "web_oom_kills": ooms,
        "web_replicas_read": len(peaks),
    }


def web_cpu(lab: BenchLab) -> dict[str, tuple[int, int, int]]:
    """Per web task: CPU time used (ns), CFS periods and throttled periods (cgroup v1,
    read on this machine as for the memory peaks)."""
    cgroups = Path("/sys/fs/cgroup")
    cpu, acct = (
        (cgroups / "cpu,cpuacct",) * 2
        if (cgroups / "cpu,cpuacct" / "cpu.stat").exists()
        else (cgroups / "cpu", cgroups / "cpuacct")
    )
    tasks = {}
    for _, cid in lab.find("web"):
        with suppress(OSError, ValueError, KeyError):
            stat_text = (cpu / "docker" / cid / "cpu.stat").read_text()
            stat = dict(line.split() for line in stat_text.splitlines())
            usage = int((acct / "docker" / cid / "cpuacct.usage").read_text())
            tasks[cid] = (usage, int(stat["nr_periods"]), int(stat["nr_throttled"]))
    return tasks


def cpu_delta(
    before: dict[str, tuple[int, int, int]], after: dict[str, tuple[int, int, int]], requests: int
) -> dict[str, Any]:
    """What the web tasks running throughout spent per request, and how often their CPU
    limit held them back (a task started or stopped meanwhile is left out, and named)."""
    both = sorted(set(before) & set(after))
    used, periods, throttled = (
        sum(after[cid][i] - before[cid][i] for cid in both) for i in range(3)
    )
    return {
        "web_cpu_ms_per_request": round(used / 1e6 / requests, 2) if requests and both else None,
        "web_throttled_share": round(throttled / periods, 2) if periods else None,
        "web_tasks_read": len(both),
        "web_tasks_changed": len(set(before) ^ set(after)),
    }


# --- 1. Convergence ----------------------------------------------------------------------


def bench_converge(lab: BenchLab, sampler: LoadSampler) -> dict[str, Any]:
    sampler.phase = "lab up"
    lab.fresh("lab-up-for-site")
    cached_before = set(IMAGE_CACHE.glob("*.tar.gz"))
    sampler.phase = "site.yml"
    log("site.yml cold")
    cold = lab.playbook("site-cold", "site.yml")
    built = sorted(p.name for p in set(IMAGE_CACHE.glob("*.tar.gz")) - cached_before)
    log("site.yml warm")
    warm = lab.playbook("site-warm", "site.yml")
    log(f"site.yml warm without the tuning ({', '.join(f'{k}={v}' for k, v in UNTUNED.items())})")
    untuned = lab.playbook("site-warm-untuned", "site.yml", env=UNTUNED)
    log("site.yml warm, tuned again")
    warm2 = lab.playbook("site-warm-2", "site.yml")
    return {
        "cold": cold,
        # The archives the cold run added to the controller's cache (built and exported
        # then); empty when every image came from the cache.
        "cold_built_images": built,
        "warm": warm,
        "warm_untuned": untuned,
        "warm_tuned_again": warm2,
        "untuned_settings": UNTUNED,
    }


def stack_files(lab: BenchLab) -> dict[str, str]:
    """The files site.yml left on the manager for a deploy by hand: the compose file and
    what it reads (HAProxy's configuration, Redis' start script with replicas)."""
    names = lab.ssh(lab.manager, "cd ~/swarmstack && ls").split()
    return {name: lab.ssh(lab.manager, f"cat ~/swarmstack/{name}") for name in names}


def archive_tags(path: Path) -> set[str]:
    with tarfile.open(path) as archive:
        member = archive.extractfile("manifest.json")
        manifest = json.load(member) if member else []
    return {tag for image in manifest for tag in image.get("RepoTags") or []}


def find_archive(tags: set[str]) -> Path:
    """The newest archive in the controller's cache holding these images (the fewest extra).

    site.yml keeps one archive per image there (stack_images)."""
    best: tuple[int, float, Path] | None = None
    for path in IMAGE_CACHE.glob("*.tar.gz"):
        with suppress(tarfile.TarError, OSError, KeyError, json.JSONDecodeError):
            held = archive_tags(path)
            if tags <= held:
                key = (-len(held - tags), path.stat().st_mtime, path)
                best = max(best, key) if best else key
    if not best:
        raise BenchError(f"no archive in {IMAGE_CACHE} holds {sorted(tags)}: run site.yml once")
    return best[2]


def bench_manual(lab: BenchLab, files: dict[str, str], sampler: LoadSampler) -> dict[str, Any]:
    """The seed's command sequence, scripted: what a user types on fresh hosts."""
    compose = yaml.safe_load(files["docker-compose.yml"])
    services = compose["services"]
    images = {name: spec["image"] for name, spec in services.items()}
    replicated = "sentinel" in services
    # Which nodes each placement label goes on: the Redis nodes the compose file names
    # (REDIS_NODES) or the manager alone; the Sentinels on as many nodes as they have
    # replicas, the Redis nodes first (as site.yml places them).
    redis_nodes = (
        str(services["redis"]["environment"]["REDIS_NODES"]).split()
        if replicated
        else [lab.manager.name]
    )
    names = [node.name for node in lab.hosts]
    sentinel_nodes = (redis_nodes + [n for n in names if n not in redis_nodes])[
        : int(services["sentinel"]["deploy"]["replicas"]) if replicated else 0
    ]
    labels = {}
    for service, nodes in (("redis", redis_nodes), ("sentinel", sentinel_nodes)):
        for constraint in (
            services.get(service, {}).get("deploy", {}).get("placement", {}).get("constraints", [])
        ):
            if found := re.fullmatch(r"node\.labels\.(\S+) == true", constraint):
                labels[found.group(1)] = nodes
    # A manager gets every image; a worker web's (and HAProxy's), and Redis' where a
    # Redis or a Sentinel runs.
    everywhere = {images["web"], *([images["lb"]] if "lb" in images else [])}
    redis_images = {images["redis"], *([images["sentinel"]] if replicated else [])}
    labelled = {name for nodes in labels.values() for name in nodes}

    def wanted(node: Node) -> set[str]:
        if node.manager:
            return set(images.values())
        return everywhere | (redis_images if node.name in labelled else set())

    archives = {
        node.name: [find_archive({image}) for image in sorted(wanted(node))] for node in lab.hosts
    }
    secret_names = {key: spec["name"] for key, spec in compose["secrets"].items()}
    sampler.phase = "lab up"
    lab.fresh("lab-up-for-manual")
    sampler.phase = "manual sequence"
    log("the manual sequence")
    steps: dict[str, float] = {}
    started = time.monotonic()

    def step(name: str) -> None:
        steps[name] = round(time.monotonic() - started, 1)

    manager, workers = lab.manager, lab.hosts[1:]

    # The nodes are plain hosts: Docker first, as the seed's user installed it.
    def install(node: Node) -> None:
        lab.ssh(
            node,
            "sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"
            ' docker.io >/dev/null && sudo usermod -aG docker "$USER"',
        )

    with ThreadPoolExecutor(len(lab.hosts)) as pool:
        list(pool.map(install, lab.hosts))
    step("docker installed")
    lab.ssh(manager, f"docker swarm init --advertise-addr {manager.address}")
    token = lab.ssh(manager, "docker swarm join-token -q worker").strip()
    for worker in workers:
        lab.ssh(worker, f"docker swarm join --token {token} {manager.address}:2377")
    step("swarm formed")
    for label, nodes in labels.items():
        for name in nodes:
            lab.ssh(manager, f"docker node update --label-add {label}=true {name}")

    def load(node: Node) -> None:
        for archive in archives[node.name]:
            lab.ssh(node, "docker load -q", input_data=archive.read_bytes())
        if node.name in redis_nodes:
            lab.ssh(node, "mkdir -p ~/data")

    with ThreadPoolExecutor(len(lab.hosts)) as pool:
        list(pool.map(load, lab.hosts))
    step("images loaded")
    lab.ssh(manager, "mkdir -p ~/swarmstack")
    for name, content in files.items():
        lab.ssh(manager, f"cat > ~/swarmstack/{name}", input_data=content.encode())
    password = secrets.token_urlsafe(24)
    # What site.yml's redis.conf holds (roles/stack/templates/redis.conf.j2).
    redis_conf = f'requirepass "{password}"\nprotected-mode yes\n'
    if replicated:
        redis_conf += (
            f'masterauth "{password}"\nmin-replicas-to-write 1\nmin-replicas-max-lag 10\n'
            "replica-read-only yes\n"
        )
    secret_data = {"redis_password": password, "redis_conf": redis_conf}
    for key, name in secret_names.items():
        lab.ssh(manager, f"docker secret create {name} -", input_data=secret_data[key].encode())
    lab.ssh(
        manager,
        f"docker stack deploy --resolve-image never -c ~/swarmstack/docker-compose.yml {STACK}",
    )
    step("stack deployed")
    wait_until(lambda: all(page_ok(node.address) for node in lab.hosts), 600, "port 80")
    seconds = time.monotonic() - started
    step("port 80 answers on every node")
    wait_until(lambda: all_tasks_running(lab, compose), 600, "every task running", every=1)
    step("every task running")
    log(f"  manual sequence: {seconds:.1f} s ({steps})")
    return {
        "seconds": round(seconds, 1),
        "steps": steps,
        "archives": {name: [path.name for path in paths] for name, paths in archives.items()},
    }


def all_tasks_running(lab: BenchLab, compose: dict[str, Any]) -> bool:
    services = compose["services"]
    wanted = sum(
        len(lab.hosts)
        if spec.get("deploy", {}).get("mode") == "global"
        else int(spec.get("deploy", {}).get("replicas", 1))
        for spec in services.values()
    )
    states = lab.ssh(
        lab.manager,
        f"docker stack ps {STACK} --filter desired-state=running --format '{{{{.CurrentState}}}}'",
    ).split("\n")
    running = [state for state in states if state.startswith("Running")]
    return len(running) >= wanted and len(running) == len([s for s in states if s])


# --- 2. GET / through port 80 ------------------------------------------------------------


def wrk(lab: BenchLab, connections: int, seconds: float, script: Path) -> dict[str, Any]:
    out = run(
        [
            "wrk",
            "-t",
            str(len(lab.hosts)),
            "-c",
            str(connections),
            "-d",
            f"{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://{lab.manager.address}/",
        ],
        timeout=seconds + 120,
    )
    line = next(line for line in reversed(out.splitlines()) if line.startswith("{"))
    raw = json.loads(line)
    errors = sum(raw[key] for key in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p90_ms": round(raw["p90_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "max_ms": round(raw["max_us"] / 1000, 1),
        "errors": errors,
        "error_kinds": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")},
    }


def servers_seen(lab: BenchLab, per_node: int = 6) -> list[str]:
    seen = set()
    for node in lab.hosts:
        for _ in range(per_node):
            status, _, headers, _ = request(node.address, "GET", "/", timeout=10)
            seen.add(f"{status} {headers.get('server', '?')}")
    return sorted(seen)


def measure_get(
    lab: BenchLab, label: str, server: str, args: argparse.Namespace, script: Path
) -> dict[str, Any]:
    """wrk against every node's port 80, once every answer comes from `server`."""
    log(f"GET / through port 80 of {len(lab.hosts)} nodes: {label}")
    wait_until(
        lambda: all(server in seen for seen in servers_seen(lab, 3)),
        180,
        f"every node's port 80 answering from {server} only",
        every=2,
    )
    servers = servers_seen(lab)
    wrk(lab, args.connections, args.warmup, script)
    before, cpu_before = redis_counter(lab), web_cpu(lab)
    result = wrk(lab, args.connections, args.duration, script)
    result.update(cpu_delta(cpu_before, web_cpu(lab), result["requests"]))
    result["counter_delta"] = redis_counter(lab) - before
    result["servers"] = servers
    result["label"] = label
    log(f"  {result}")
    return result


def ship_tutorial(lab: BenchLab) -> None:
    log(f"building {TUTORIAL_IMAGE} from bench/tutorial.Dockerfile on this machine")
    run(
        [
            "docker",
            "build",
            "-q",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            TUTORIAL_IMAGE,
            "-f",
            str(REPO / "bench" / "tutorial.Dockerfile"),
            str(REPO / "bench"),
        ]
    )
    archive = run_bytes(["docker", "save", TUTORIAL_IMAGE])
    with ThreadPoolExecutor(len(lab.hosts)) as pool:
        list(pool.map(lambda node: lab.ssh(node, "docker load -q", input_data=archive), lab.hosts))


def run_bytes(argv: list[str]) -> bytes:
    result = subprocess.run(argv, capture_output=True, timeout=600, check=False)
    if result.returncode:
        raise BenchError(f"{' '.join(argv)}: {result.stderr.decode(errors='replace')}")
    return result.stdout


def switch_web(lab: BenchLab, image: str, *flags: str) -> None:
    log(f"web service -> {image} (docker service update --image {' '.join(flags)})")
    lab.ssh(
        lab.manager,
        f"docker service update -q --detach=false --no-resolve-image {shlex.join(flags)}"
        f" --image {image} {STACK}_web",
        timeout=900,
    )


def primary_address(lab: BenchLab) -> str:
    """The primary's task address on the stack's network.

    The tutorial app knows one Redis host: given the service name, which names every
    server with replicas (dnsrr), each of its connections went to any of them, and those
    that reached a replica answered "counter disabled" (READONLY): about half its
    visits went uncounted, an easier page than the stack's."""
    servers = redis_servers(lab)
    node, cid, _ = next((s for s in servers if s[2] == "master"), servers[0])
    network = f"{STACK}_webnet"
    template = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
    address = lab.ssh(node, f"docker inspect -f {shlex.quote(template)} {cid}").strip()
    if not address:
        raise BenchError(f"the primary's task {cid} on {node.name} has no address on {network}")
    return address


def bench_get(lab: BenchLab, args: argparse.Namespace, web_image: str) -> dict[str, Any]:
    """This stack, the tutorial app in its place, this stack again (A-B-A: the machine is
    shared, so a drift in its load shows as a difference between the two A runs)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(WRK_SCRIPT % (", ".join(f'"{n.address}"' for n in lab.hosts), 80))
    script = Path(handle.name)
    stack_label = "swarmstack web (gunicorn)"
    try:
        first = measure_get(lab, stack_label, "gunicorn", args, script)
        env = json.loads(
            lab.ssh(
                lab.manager,
                "docker service inspect -f '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'"
                f" {STACK}_web",
            )
        )
        # web's own REDIS_HOST back (a single Redis), or none (replicas: it asks Sentinel).
        host = next((item for item in env or [] if item.startswith("REDIS_HOST=")), None)
        restore_host = ("--env-add", host) if host else ("--env-rm", "REDIS_HOST")
        ship_tutorial(lab)
        # Pointed at the primary, so that it counts every visit, as the stack does.
        switch_web(lab, TUTORIAL_IMAGE, "--env-add", f"REDIS_HOST={primary_address(lab)}")
        tutorial = measure_get(
            lab, "tutorial app (Flask development server)", "Werkzeug", args, script
        )
        switch_web(lab, web_image, *restore_host)
        again = measure_get(lab, f"{stack_label}, again", "gunicorn", args, script)
    finally:
        script.unlink()
    stack = {
        "label": f"{stack_label}: both runs (mean req/s, worse latency)",
        "rps": round((first["rps"] + again["rps"]) / 2, 1),
        "p50_ms": max(first["p50_ms"], again["p50_ms"]),
        "p99_ms": max(first["p99_ms"], again["p99_ms"]),
        "errors": first["errors"] + again["errors"],
        "counter_delta": first["counter_delta"] + again["counter_delta"],
        "requests": first["requests"] + again["requests"],
        **{
            key: round((first[key] + again[key]) / 2, 2)
            for key in ("web_cpu_ms_per_request", "web_throttled_share")
            if first.get(key) is not None and again.get(key) is not None
        },
    }
    return {
        "connections": args.connections,
        "threads": len(lab.hosts),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "runs": [first, tutorial, again],
        "stack": stack,  # mean req/s of the two runs, the worse of their latencies
        "tutorial": tutorial,
        "rps_ratio": round(stack["rps"] / tutorial["rps"], 2) if tutorial["rps"] else None,
    }


# --- 2b. Redis replicated: WAIT's cost on GET /, and a failover ---------------------------


def bench_wait_cost(lab: BenchLab, args: argparse.Namespace) -> dict[str, Any]:
    """GET / with the default Redis (replicated: every visit waits for a replica, WAIT 1),
    with a single Redis (no WAIT), then replicated again (A-B-A), in one run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(WRK_SCRIPT % (", ".join(f'"{n.address}"' for n in lab.hosts), 80))
    script = Path(handle.name)
    try:
        first = measure_get(lab, "Redis replicated (WAIT 1)", "gunicorn", args, script)
        lab.playbook("single-redis", "playbooks/redeploy.yml", "-e", "stack_redis_replicas=0")
        single = measure_get(lab, "single Redis (no WAIT)", "gunicorn", args, script)
        lab.playbook("replicated-again", "playbooks/redeploy.yml")
        again = measure_get(lab, "Redis replicated (WAIT 1), again", "gunicorn", args, script)
    finally:
        script.unlink()
    replicated_rps = (first["rps"] + again["rps"]) / 2
    return {
        "runs": [first, single, again],
        "rps_replicated_over_single": round(replicated_rps / single["rps"], 2)
        if single["rps"]
        else None,
        "p99_replicated_over_single": round(
            max(first["p99_ms"], again["p99_ms"]) / single["p99_ms"], 2
        )
        if single["p99_ms"]
        else None,
    }


def bench_failover(lab: BenchLab, args: argparse.Namespace) -> dict[str, Any]:
    """Kill the Redis primary's node container whole (a host losing power) under load on the
    other nodes; the longest stretch without a counted visit there, and whether the counter
    and the records are exact once the node is back as a replica."""
    servers = redis_servers(lab)
    primaries = [node for node, _, role in servers if role == "master"]
    if len(servers) < 2 or len(primaries) != 1:
        raise BenchError(f"the failover needs a primary and a replica: {servers}")
    lost = primaries[0]
    survivors = [node for node in lab.hosts if node is not lost]
    records = make_records(real_records(), 1000)
    status, body, _, _ = request(
        survivors[0].address, "POST", "/data", json.dumps(records).encode()
    )
    if status != 201:
        raise BenchError(f"POST /data of 1000 records before the failover: {status} {body[:200]!r}")

    def listed() -> list[dict[str, str]]:
        return sorted(
            json.loads(request(survivors[0].address, "GET", "/data")[1]), key=lambda r: r["id"]
        )

    stored = listed()
    before = redis_counter(lab)
    seconds = 20 if args.quick else 45
    log(f"failover: killing {lost.container} (the primary's node) under load on the others")
    load = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "roles" / "verify" / "files" / "load.py"),
            "--clients",
            "4",
            "--seconds",
            str(seconds),
            "--error-pause",
            "0.2",
            *(f"http://{node.address}:80/" for node in survivors),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        run(["docker", "kill", lost.container])
        out, _ = load.communicate(timeout=seconds + 120)
    finally:
        if load.poll() is None:
            load.kill()
        run(["docker", "start", lost.container])
    answers = json.loads(out)
    started = time.monotonic()

    def back() -> bool:
        with suppress(BenchError, LabError, subprocess.TimeoutExpired):
            roles = {node.name: role for node, _, role in redis_servers(lab)}
            return roles.get(lost.name) == "slave" and list(roles.values()).count("master") == 1
        return False

    wait_until(back, 300, f"{lost.name} back with a Redis replica", every=5)
    back_s = time.monotonic() - started
    page = request(survivors[0].address, "GET", "/")[1].decode(errors="replace")
    after = int(re.search(r"Visits:</b> (\d+)", page).group(1)) if "Visits:</b> " in page else None
    counted = answers["pages"].get("counted", 0)
    result = {
        "lost": lost.name,
        "load_s": seconds,
        "answers": answers["statuses"],
        "pages": answers["pages"],
        "longest_uncounted_s": answers["longest_uncounted_s"],
        "max_shown": answers["max_visits"],
        "counter_before": before,
        "counter_after": after,
        "counted": counted,
        "unsure": answers["total"] - counted,
        # Acknowledged visits lost: shown to a client, yet not in the counter after.
        "acknowledged_lost": max(0, answers["max_visits"] - (after or 0) + 1),
        "records_exact": listed() == stored,
        "back_as_replica_s": round(back_s, 1),
    }
    request(survivors[0].address, "DELETE", "/data")
    log(f"  {result}")
    return result


# --- 3. POST /data scaling ----------------------------------------------------------------


def real_records() -> list[dict[str, str]]:
    try:
        data = json.loads(DATA_FILE.read_text())
        records = data["meteorite_landings"] if isinstance(data, dict) else data
        if not records or not all(isinstance(r, dict) and "id" in r for r in records):
            raise ValueError("no records with an id")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BenchError(
            f"{DATA_FILE} is not the Meteorite Landings file ({err}); "
            "set SWARMSTACK_DATA_FILE to it"
        ) from None
    return records


def make_records(real: list[dict[str, str]], count: int) -> list[dict[str, str]]:
    """The real records, repeated with new ids (after the highest real one) up to `count`."""
    first_new = max(int(r["id"]) for r in real if str(r["id"]).isdigit()) + 1
    out = []
    for n in range(count):
        record = dict(real[n % len(real)])
        if n >= len(real):
            record["id"] = str(first_new + n - len(real))
        out.append(record)
    return out


def loop_client(lab: BenchLab) -> tuple[Node, str, str]:
    """A web task's node, container and image: preferably not on the redis task's node."""
    redis_node = lab.find("redis")[0][0]
    tasks = lab.find("web")
    node, cid = next(((n, c) for n, c in tasks if n is not redis_node), tasks[0])
    image = lab.ssh(node, f"docker inspect -f '{{{{.Config.Image}}}}' {cid}").strip()
    return node, cid, image


def per_record(
    lab: BenchLab, client: tuple[Node, str, str], password: str, records: list[dict[str, str]]
) -> dict[str, Any]:
    node, cid, image = client
    lines = "\n".join(json.dumps(record) for record in records)
    command = (
        f"docker run --rm -i --network container:{cid} --cpus 0.1 --memory 50m "
        f"--entrypoint python3 {image} -c {shlex.quote(LOOP_CLIENT)} bench-loop:"
    )
    started = time.monotonic()
    out = lab.ssh(node, command, input_data=f"{password}\n{lines}\n".encode(), timeout=3600)
    wall = time.monotonic() - started
    result = json.loads(out.strip().splitlines()[0])
    if result["stored"] != len(records):
        raise BenchError(f"the HSET loop stored {result['stored']} of {len(records)} records")
    return {
        "seconds": round(result["seconds"], 2),
        "wall_s": round(wall, 2),
        "used_memory": result["used_memory"],
    }


def batched(lab: BenchLab, records: list[dict[str, str]], groups: list[Path]) -> dict[str, Any]:
    body = json.dumps({"meteorite_landings": records}).encode()
    target = lab.manager.address
    reset_peaks(groups)
    status, answer, _, seconds = request(target, "POST", "/data", body)
    try:
        stored = json.loads(answer).get("stored")
    except (ValueError, AttributeError):
        stored = None
    return {
        "status": status,
        "stored": stored,
        "ok": status == 201 and stored == len(records),
        "answer": answer[:200].decode(errors="replace") if status != 201 else "",
        "seconds": round(seconds, 2),
        "body_mib": round(len(body) / 2**20, 1),
        **read_peaks(groups),
    }


def listed(lab: BenchLab, count: int, groups: list[Path], tries: int = 3) -> dict[str, Any]:
    """GET /data of the records just loaded through port 80: best of `tries`, all checked."""
    reset_peaks(groups)
    times, ok = [], True
    for _ in range(tries):
        status, answer, _, seconds = request(lab.manager.address, "GET", "/data")
        try:
            ok = ok and status == 200 and len(json.loads(answer)) == count
        except ValueError:
            ok = False
        times.append(round(seconds, 2))
    return {"ok": ok, "best_s": min(times), "seconds": times, **read_peaks(groups)}


def bench_post(lab: BenchLab, sizes: list[int]) -> dict[str, Any]:
    real = real_records()
    client = loop_client(lab)
    password = lab.ssh(client[0], f"docker exec {client[1]} cat /run/secrets/redis_password")
    groups = web_cgroups(lab)
    rows = []
    for count in sizes:
        records = make_records(real, count)
        request(lab.manager.address, "DELETE", "/data")
        baseline = redis_memory(lab)["used_memory"]
        log(f"POST /data of {count} records through port 80")
        row: dict[str, Any] = {"records": count, "baseline_used_memory": baseline}
        row["batched"] = batched(lab, records, groups)
        row["batched"]["used_memory"] = redis_memory(lab)["used_memory"]
        log(f"  {row['batched']}")
        if row["batched"]["ok"]:
            row["listed"] = listed(lab, count, groups)
            log(f"  GET /data: {row['listed']}")
        request(lab.manager.address, "DELETE", "/data")
        log(f"one HSET per record, {count} records, from {client[0].name}")
        row["per_record"] = per_record(lab, client, password.strip(), records)
        log(f"  {row['per_record']}")
        rows.append(row)
    return {
        "source": str(DATA_FILE),
        "real_records": len(real),
        "post_to": f"{lab.manager.name} port 80",
        "loop_client": {"node": client[0].name, "limits": "--cpus 0.1 --memory 50m"},
        "web_peak_source": f"{len(groups)} web task cgroups",
        "rows": rows,
    }


# --- Report -----------------------------------------------------------------------------


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    conv, manual = report.get("converge"), report.get("manual")
    out: dict[str, Any] = {}
    if conv and manual:
        out["cold_over_manual"] = round(conv["cold"]["seconds"] / manual["seconds"], 2)
    if get := report.get("get"):
        out["get_rps_stack_over_tutorial"] = get["rps_ratio"]
    if replication := report.get("replication"):
        out["get_rps_replicated_over_single"] = replication["wait"]["rps_replicated_over_single"]
        out["failover_longest_uncounted_s"] = replication["failover"]["longest_uncounted_s"]
        out["failover_acknowledged_lost"] = replication["failover"]["acknowledged_lost"]
    if conv:
        out["warm_s"] = conv["warm"]["seconds"]
        out["warm_changed"] = conv["warm"]["changed"]
        out["untuned_over_tuned_warm"] = round(
            conv["warm_untuned"]["seconds"] / conv["warm_tuned_again"]["seconds"], 2
        )
    return out


def aims(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Each aim of the issues that this run's phases measure: the aim, what was measured,
    and whether it was met."""
    out: list[tuple[str, str, bool]] = []
    rows = {row["records"]: row for row in report.get("post", {}).get("rows", [])}
    if full := rows.get(45_716):
        b, g = full["batched"], full.get("listed", {})
        out.append(
            (
                "POST /data of 45,716 records under 2 s",
                f"{b['seconds']} s",
                b["ok"] and b["seconds"] < 2,
            )
        )
        out.append(
            (
                "GET /data of 45,716 records under 1 s (best of 3)",
                f"{g['best_s']} s" if g else "not measured",
                bool(g.get("ok")) and g["best_s"] < 1,
            )
        )
    if big := rows.get(200_000):
        b, g = big["batched"], big.get("listed", {})
        peak = max(b["web_peak_mib"] or 0, g.get("web_peak_mib") or 0)
        kills = b["web_oom_kills"] + g.get("web_oom_kills", 0)
        out.append(
            (
                "200,000 records within a replica's 50M",
                f"peak {peak} MiB, {kills} OOM kills, POST {b['status']}",
                b["ok"] and kills == 0 and peak < 50,
            )
        )
    if get := report.get("get"):
        stack, tutorial, ratio = get["stack"], get["tutorial"], get["rps_ratio"]
        out.append(
            ("GET / at least 2x the tutorial app's req/s", f"x{ratio}", bool(ratio) and ratio >= 2)
        )
        out.append(
            (
                "... with a lower p99 (the worse of the stack's two runs)",
                f"{stack['p99_ms']} vs {tutorial['p99_ms']} ms",
                stack["p99_ms"] < tutorial["p99_ms"],
            )
        )
        out.append(("... and no errors", str(stack["errors"]), stack["errors"] == 0))
    r = report.get("ratios", {})
    if "cold_over_manual" in r:
        out.append(
            (
                "cold site.yml at most 1.2x the manual sequence",
                f"x{r['cold_over_manual']}",
                r["cold_over_manual"] <= 1.2,
            )
        )
    if "warm_s" in r:
        out.append(
            (
                "warm site.yml under 15 s with changed=0",
                f"{r['warm_s']} s, changed={r['warm_changed']}",
                r["warm_s"] < 15 and r["warm_changed"] == 0,
            )
        )
    if "failover_longest_uncounted_s" in r:
        out.append(
            (
                "failover under 10 s without a count, nothing acknowledged lost",
                f"{r['failover_longest_uncounted_s']} s, {r['failover_acknowledged_lost']} lost",
                r["failover_longest_uncounted_s"] < 10 and r["failover_acknowledged_lost"] == 0,
            )
        )
    return out


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# System benchmark",
        "",
        f"{report['date']}; {m['os']}, kernel {m['kernel']}, {m['nproc']} CPUs ({m['cpu']}), "
        f"{m['memory_gib']} GiB; commit {m['commit'][:10]} "
        f"({m['uncommitted_files']} uncommitted files); mode {report['mode']}.",
        "",
        "Load average (1 min) during the run: "
        + "; ".join(f"{phase} {v['mean']} (max {v['max']})" for phase, v in report["load"].items()),
        "",
    ]
    if conv := report.get("converge"):
        lines += ["## Convergence", "", "| run | seconds | changed |", "| --- | ---: | ---: |"]
        for key in ("cold", "warm", "warm_untuned", "warm_tuned_again"):
            lines.append(f"| site.yml {key} | {conv[key]['seconds']} | {conv[key]['changed']} |")
    if manual := report.get("manual"):
        lines.append(f"| manual sequence | {manual['seconds']} | - |")
    lines += ["", f"Ratios: {json.dumps(report['ratios'])}", ""]
    if met := aims(report):
        lines += ["## Aims", "", "| aim | measured | reached |", "| --- | --- | --- |"]
        lines += [f"| {aim} | {value} | {'yes' if ok else '**no**'} |" for aim, value, ok in met]
        lines.append("")
    if get := report.get("get"):
        lines += [
            "## GET / through port 80",
            "",
            "| run | req/s | p50 ms | p99 ms | errors | counter delta "
            "| web CPU ms/request | web periods throttled |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in [*get["runs"], get["stack"]]:
            lines.append(
                f"| {row['label']} | {row['rps']} | {row['p50_ms']} | {row['p99_ms']} | "
                f"{row['errors']} | {row['counter_delta']} | "
                f"{row.get('web_cpu_ms_per_request', '-')} | "
                f"{row.get('web_throttled_share', '-')} |"
            )
        lines.append("")
    if replication := report.get("replication"):
        wait, failover = replication["wait"], replication["failover"]
        lines += [
            "## Redis replicated: the cost of WAIT on GET /, and a failover",
            "",
            "| run | req/s | p50 ms | p99 ms | errors | counter delta |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in wait["runs"]:
            lines.append(
                f"| {row['label']} | {row['rps']} | {row['p50_ms']} | {row['p99_ms']} | "
                f"{row['errors']} | {row['counter_delta']} |"
            )
        lines += [
            "",
            f"Replicated over single: req/s x{wait['rps_replicated_over_single']}, "
            f"p99 x{wait['p99_replicated_over_single']}.",
            "",
            f"Failover: {failover['lost']} (the primary's node) killed whole under load on the "
            f"others for {failover['load_s']} s: longest stretch without a count "
            f"{failover['longest_uncounted_s']} s; highest count shown {failover['max_shown']}, "
            f"counter after the node came back {failover['counter_after']} "
            f"({failover['acknowledged_lost']} acknowledged visits lost); records exact: "
            f"{failover['records_exact']}; answers {json.dumps(failover['answers'])} "
            f"{json.dumps(failover['pages'])}; back as a replica after "
            f"{failover['back_as_replica_s']} s.",
            "",
        ]
    if post := report.get("post"):
        lines += [
            "## POST /data through port 80 vs one HSET per record",
            "",
            "| records | POST s | status | Redis MiB | web peak MiB | OOM "
            "| GET s (best of 3) | GET web peak MiB | HSET loop s | Redis MiB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in post["rows"]:
            b, p = row["batched"], row["per_record"]
            g = row.get("listed", {})
            checked = "" if g.get("ok", True) else " (wrong answer)"
            base = row["baseline_used_memory"]
            lines.append(
                f"| {row['records']} | {b['seconds']} | {b['status']} | "
                f"{(b['used_memory'] - base) / 2**20:.1f} | {b['web_peak_mib']} | "
                f"{b['web_oom_kills']} | {g.get('best_s', '-')}{checked} | "
                f"{g.get('web_peak_mib', '-')} | "
                f"{p['seconds']} | {(p['used_memory'] - base) / 2**20:.1f} |"
            )
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any]) -> list[str]:
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no plots (make setup installs it)")
        return []
    made = []
    if get := report.get("get"):
        rows = [get["stack"], get["tutorial"]]
        names = ["swarmstack\n(gunicorn)", "tutorial app\n(Flask dev server)"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
        left.bar(names, [r["rps"] for r in rows], color=["tab:blue", "tab:gray"])
        left.set_ylabel("requests/s")
        left.set_title("GET / throughput")
        for x, r in enumerate(rows):
            left.annotate(f"{r['rps']:.0f}", (x, r["rps"]), ha="center", va="bottom")
        width = 0.35
        for shift, key, label in ((-width / 2, "p50_ms", "p50"), (width / 2, "p99_ms", "p99")):
            right.bar([x + shift for x in range(2)], [r[key] for r in rows], width, label=label)
        right.set_xticks(range(2), names)
        right.set_ylabel("latency, ms")
        right.set_title("GET / latency")
        right.legend()
        fig.suptitle(
            f"Port 80 of {get['threads']} nodes, {get['connections']} connections, "
            f"5 replicas x 0.1 CPU / 50M"
        )
        fig.tight_layout()
        fig.savefig(RESULTS / "throughput.png", dpi=100)
        plt.close(fig)
        made.append("throughput.png")
    if post := report.get("post"):
        rows = post["rows"]
        counts = [r["records"] for r in rows]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        ok = [r for r in rows if r["batched"]["ok"]]
        left.plot(
            [r["records"] for r in ok],
            [r["batched"]["seconds"] for r in ok],
            "o-",
            label="POST /data, batched (through port 80)",
        )
        for r in rows:
            if not r["batched"]["ok"]:
                left.plot(r["records"], r["batched"]["seconds"], "rx", markersize=10)
                left.annotate(
                    f"HTTP {r['batched']['status']}", (r["records"], r["batched"]["seconds"])
                )
        left.plot(
            counts, [r["per_record"]["seconds"] for r in rows], "s--", label="one HSET per record"
        )
        left.set_xscale("log")
        left.set_yscale("log")
        left.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        left.set_xlabel("records")
        left.set_ylabel("seconds")
        left.set_title("Load time")
        left.legend(fontsize=8)
        for key, label in (
            ("batched", "Redis, data of POST /data"),
            ("per_record", "Redis, data of the HSET loop"),
        ):
            right.plot(
                counts,
                [(r[key]["used_memory"] - r["baseline_used_memory"]) / 2**20 for r in rows],
                "o-" if key == "batched" else "s--",
                label=label,
            )
        peaks = [r["batched"]["web_peak_mib"] for r in rows]
        if all(p is not None for p in peaks):
            right.plot(counts, peaks, "^:", label="web replica peak (POST)")
            right.axhline(50, color="red", linewidth=0.8, label="web replica limit (50M)")
        right.set_xscale("log")
        right.set_xlabel("records")
        right.set_ylabel("MiB")
        right.set_title("Memory")
        right.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(RESULTS / "load_time.png", dpi=100)
        plt.close(fig)
        made.append("load_time.png")
    if (conv := report.get("converge")) and (manual := report.get("manual")):
        bars = {
            "site.yml\ncold": conv["cold"]["seconds"],
            "manual\nsequence": manual["seconds"],
            "site.yml warm\n(tuned)": conv["warm"]["seconds"],
            "site.yml warm\n(untuned)": conv["warm_untuned"]["seconds"],
            "site.yml warm\n(tuned, again)": conv["warm_tuned_again"]["seconds"],
        }
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.bar(
            list(bars),
            list(bars.values()),
            color=["tab:blue", "tab:gray", "tab:green", "tab:olive", "tab:green"],
        )
        for x, value in enumerate(bars.values()):
            ax.annotate(f"{value:.0f} s", (x, value), ha="center", va="bottom")
        ax.set_ylabel("seconds")
        ax.set_title("Convergence on three fresh lab nodes")
        fig.tight_layout()
        fig.savefig(RESULTS / "converge.png", dpi=100)
        plt.close(fig)
        made.append("converge.png")
    return made


# --- Main -------------------------------------------------------------------------------


def check_tools() -> None:
    for tool in ("docker", "wrk", "ssh"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found: run `make setup`")
    if not (REPO / ".venv" / "bin" / "ansible-playbook").exists():
        raise BenchError(f"{REPO}/.venv has no ansible-playbook: run `make setup`")
    if subprocess.run(["docker", "info"], capture_output=True).returncode:
        raise BenchError("no Docker engine answers: run `make setup`")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="small sizes and short runs, for development (also BENCH_QUICK=1)",
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    parser.add_argument("--keep-lab", action="store_true", help="leave the bench lab up")
    parser.add_argument(
        "--replot",
        metavar="JSON",
        type=Path,
        help="only redraw the plots and Markdown of an earlier run's JSON (no lab)",
    )
    parser.add_argument("--connections", type=int, default=24, help="wrk connections in all")
    args = parser.parse_args()
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(args.phases) - set(PHASES))
    if unknown or not args.phases:
        parser.error(f"--phases: unknown {unknown}; choose from {','.join(PHASES)}")
    if args.connections < 3:
        parser.error("--connections must be at least 3 (one per node)")
    args.duration, args.warmup = (5.0, 2.0) if args.quick else (30.0, 5.0)
    args.sizes = [1000, 5000] if args.quick else [1000, 10_000, 45_716, 200_000]
    return args


def run_phases(
    lab: BenchLab, args: argparse.Namespace, report: dict[str, Any], sampler: LoadSampler
):
    files = None
    if "converge" in args.phases:
        report["converge"] = bench_converge(lab, sampler)
    elif {"post", "get", "replication"} & set(args.phases) or "manual" in args.phases:
        sampler.phase = "lab up"
        lab.playbook("lab-up", "playbooks/lab.yml")
        lab.playbook("site", "site.yml")
    files = stack_files(lab)
    if "post" in args.phases:
        sampler.phase = "POST /data"
        report["post"] = bench_post(lab, args.sizes)
        request(lab.manager.address, "DELETE", "/data")
    if "get" in args.phases:
        sampler.phase = "GET /"
        web_image = yaml.safe_load(files["docker-compose.yml"])["services"]["web"]["image"]
        report["get"] = bench_get(lab, args, web_image)
    if "replication" in args.phases:
        sampler.phase = "replication"
        report["replication"] = {
            "wait": bench_wait_cost(lab, args),
            "failover": bench_failover(lab, args),
        }
    if "manual" in args.phases:
        report["manual"] = bench_manual(lab, files, sampler)


@contextmanager
def sampling() -> Iterator[LoadSampler]:
    sampler = LoadSampler()
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stop()


def replot(path: Path) -> int:
    try:
        report = json.loads(path.read_text())
        if not isinstance(report, dict) or "machine" not in report:
            raise ValueError("it has no 'machine'")
    except (OSError, ValueError) as err:
        print(f"system-bench: {path} is not a system_bench.json ({err!r})", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    made = plot(report)
    (RESULTS / "system_bench.md").write_text(markdown(report))
    log(f"redrew {', '.join(made) or 'nothing'} and system_bench.md in {RESULTS}")
    return 0


def main() -> int:
    args = parse_args()
    if args.replot:
        return replot(args.replot)
    try:
        check_tools()
        real_records()  # a missing data file stops the run before any lab is made
    except BenchError as err:
        print(f"system-bench: {err}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    logs = RESULTS / "logs"
    logs.mkdir(exist_ok=True)
    lab = BenchLab.from_bench_inventory(logs)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "lab": [
            {"name": node.name, "address": node.address, "manager": node.manager}
            for node in lab.hosts
        ],
    }
    started = time.monotonic()
    status = 0
    with sampling() as sampler:
        try:
            run_phases(lab, args, report, sampler)
        except (BenchError, LabError, subprocess.TimeoutExpired, *CONNECTION_ERRORS) as err:
            report["error"] = str(err)
            print(f"system-bench: {err}", file=sys.stderr)
            status = 1
        finally:
            sampler.phase = "lab down"
            if not args.keep_lab:
                with suppress(BenchError):
                    lab.down()
    report["load"] = sampler.summary()
    report["ansible_runs"] = lab.runs
    report["ratios"] = ratios(report)
    report["total_s"] = round(time.monotonic() - started, 1)
    report["plots"] = plot(report)
    (RESULTS / "system_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "system_bench.md").write_text(markdown(report))
    print(markdown(report))
    log(f"results in {RESULTS}/system_bench.{{json,md}} and {', '.join(report['plots'])}")
    return status


if __name__ == "__main__":
    sys.exit(main())
