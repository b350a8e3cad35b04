"""A live swarm, given by its inventory, driven the way a user drives it.

Everything goes through the inventory in SWARMSTACK_INVENTORY: the playbooks
and ad-hoc module calls run with ansible-playbook and ansible, the load and
the counter go to the nodes' web port.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOAD = ROOT / "roles" / "verify" / "files" / "load.py"
INVENTORY = os.environ.get("SWARMSTACK_INVENTORY", "")
STACK = "swarmstack"
VISITS = re.compile(r"<b>Visits:</b> (\d+)")
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", re.MULTILINE)
MEASURED: list[str] = []


def ansible_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",  # Molecule sets it; colour codes hide the PLAY RECAP
        **extra,
    }


@dataclass
class Run:
    """The outcome of one ansible-playbook run."""

    rc: int
    output: str
    seconds: float
    flat: str = field(init=False)

    def __post_init__(self) -> None:
        # Ansible folds long messages; compare on single spaces.
        self.flat = " ".join(self.output.split())

    def changed(self) -> dict[str, int]:
        """changed=N of each host in the PLAY RECAP."""
        return {host: int(n) for host, n in RECAP.findall(self.output)}


@dataclass
class Load:
    """load.py in the background against some nodes, until stopped."""

    urls: list[str]
    clients: int = int(os.environ.get("SWARMSTACK_LOAD_CLIENTS", "4"))
    proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Load:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(LOAD),
                "--clients",
                str(self.clients),
                "--seconds",
                "900",
                "--max-requests",
                "100000000",
                "--error-pause",
                "0.2",
                *self.urls,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)  # the clients are sending before the operation starts
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> dict[str, Any]:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return json.loads(out)


@dataclass
class Step:
    """An operation under load: the runs, the load's answers and the counter around them."""

    name: str
    runs: list[Run]
    load: dict[str, Any]
    before: int
    after: int
    seconds: float

    @property
    def failed(self) -> int:
        return self.load["total"] - self.load["ok"]

    @property
    def delta(self) -> int:
        """Visits between the two readings, without the second reading's own."""
        return self.after - self.before - 1

    def summary(self) -> str:
        return (
            f"{self.name}: {self.seconds:.0f} s, {self.load['total']} requests, "
            f"{self.failed} failed {self.load['statuses']}, "
            f"counter +{self.delta} for {self.load['ok']} answers 200"
        )


class Lab:
    """The swarm of the inventory in SWARMSTACK_INVENTORY."""

    def __init__(self, inventory: str) -> None:
        self.inventory = str(Path(inventory).resolve())
        listed = json.loads(
            subprocess.run(
                [str(BIN / "ansible-inventory"), "-i", self.inventory, "--list"],
                env=ansible_env(),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        self.hostvars: dict[str, dict[str, Any]] = listed["_meta"]["hostvars"]
        self.managers: list[str] = listed.get("managers", {}).get("hosts", [])
        self.workers: list[str] = listed.get("workers", {}).get("hosts", [])
        self.hosts = self.managers + self.workers
        infos = self.module("swarm", "community.docker.docker_host_info")
        # The name each node has in the swarm (`docker node ls`).
        self.hostname = {host: info["host_info"]["Name"] for host, info in infos.items()}

    def url(self, host: str, path: str = "/") -> str:
        vars_ = self.hostvars[host]
        port = vars_.get("stack_web_port", 80)
        return f"http://{vars_.get('ansible_host', host)}:{port}{path}"

    def playbook(self, path: str, *extra: str, inventory: str | None = None) -> Run:
        started = time.monotonic()
        proc = subprocess.run(
            [
                str(BIN / "ansible-playbook"),
                "-i",
                inventory or self.inventory,
                str(ROOT / path),
                *extra,
            ],
            cwd=ROOT,
            env=ansible_env(),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)

    def module(self, pattern: str, module: str, /, **args: Any) -> dict[str, dict[str, Any]]:
        """One module on the hosts of `pattern`, with become: each host's result."""
        proc = subprocess.run(
            [str(BIN / "ansible"), pattern, "-i", self.inventory, "-b", "-m", module]
            + (["-a", json.dumps(args)] if args else []),
            cwd=ROOT,
            env=ansible_env(ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1"),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        results = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]
        failed = {
            h: r.get("msg") for h, r in results.items() if r.get("failed") or r.get("unreachable")
        }
        assert not failed, f"{module} on {pattern}: {failed}"
        return results

    def manager(self, module: str, /, **args: Any) -> dict[str, Any]:
        """One module on the first manager."""
        return self.module(self.managers[0], module, **args)[self.managers[0]]

    def nodes(self) -> list[dict[str, Any]]:
        return self.manager("community.docker.docker_node_info")["nodes"]

    def running(self, service: str = "web") -> list[str]:
        """The nodes running each task of a service of the stack, one entry per task."""
        tasks = self.manager("community.docker.docker_stack_task_info", name=STACK)["results"]
        return [
            t["Node"]
            for t in tasks
            if t["Name"].startswith(f"{STACK}_{service}.")
            and t["DesiredState"].lower() == "running"
            and t["CurrentState"].lower().startswith("running")
        ]

    def visits(self, timeout: float = 60) -> int:
        """One visit through the first manager's port, once the counter answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url(self.managers[0]), timeout=10) as answer:
                    match = VISITS.search(answer.read().decode())
                if match:
                    return int(match.group(1))
            except OSError:
                pass
            assert time.monotonic() < deadline, "the counter did not answer"
            time.sleep(1)

    def under_load(
        self, name: str, urls: list[str], *runs: tuple[str, ...], hold: float = 0
    ) -> Step:
        """Run playbooks one after the other (or wait `hold` s) under load on `urls`."""
        before = self.visits()
        started = time.monotonic()
        with Load(urls) as load:
            done = [self.playbook(*run) for run in runs]
            time.sleep(hold)
            answers = load.stop()
        seconds = time.monotonic() - started
        step = Step(name, done, answers, before, self.visits(), seconds)
        MEASURED.append(step.summary())
        for run in done:
            assert run.rc == 0, run.output[-3000:]
        return step

    def steady(self, name: str, hold: float = 5) -> Step:
        """A short load on every node while nothing else happens."""
        return self.under_load(name, [self.url(h) for h in self.hosts], hold=hold)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def send_json(url: str, method: str, body: Any = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code
