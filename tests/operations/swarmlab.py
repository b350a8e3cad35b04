"""A live swarm, given by its inventory, driven the way a user drives it.

Everything goes through the inventory in SWARMSTACK_INVENTORY: the playbooks
and ad-hoc module calls run with ansible-playbook and ansible, the load and
the counter go to the nodes' web port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmstack_harness import ROOT
from swarmstack_harness.ansible import Run, list_inventory, run_module, run_playbook
from swarmstack_harness.http import CONNECTION_ERRORS, request
from swarmstack_harness.wait import wait_for

LOAD = ROOT / "roles" / "verify" / "files" / "load.py"
INVENTORY = os.environ.get("SWARMSTACK_INVENTORY", "")
STACK = "swarmstack"
MEASURED: list[str] = []
# Seconds from one request of a load client to its next at the least. A
# flood (0) spends the CPU the operation under test needs: on two cores a
# warm site.yml took 32.3 s under 4 unpaced clients (429 req/s), 21.0 s
# under 4 clients at 0.05 s (80 req/s) and 19.5 s with no load. At 0.05 s a
# gap in service of a tenth of a second still meets several requests.
LOAD_INTERVAL = float(os.environ.get("SWARMSTACK_LOAD_INTERVAL", "0.05"))


@dataclass
class Load:
    """load.py in the background against some nodes, until stopped."""

    urls: list[str]
    clients: int = int(os.environ.get("SWARMSTACK_LOAD_CLIENTS", "4"))
    interval: float = LOAD_INTERVAL
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
                "--interval",
                str(self.interval),
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
        listed = list_inventory(self.inventory)
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

    def playbook(
        self,
        path: str,
        *extra: str,
        inventory: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Run:
        return run_playbook(path, inventory or self.inventory, *extra, env=env)

    def module(self, pattern: str, module: str, /, **args: Any) -> dict[str, dict[str, Any]]:
        """One module on the hosts of `pattern`, with become: each host's result."""
        return run_module(pattern, module, self.inventory, **args)

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
        return wait_for(
            "the counter to answer",
            lambda: request(self.url(self.managers[0]), timeout=10).visits(),
            timeout,
            step=1,
            errors=CONNECTION_ERRORS,
        )

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
