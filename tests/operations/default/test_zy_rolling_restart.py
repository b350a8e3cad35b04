"""Docker's settings changed: site.yml restarts the engines one node at a time, no outage.

Each node in turn hands the Redis primary over if it holds it, is drained
(but the only manager), restarted, waited for and made active again. Under
load on every node's port 80, a request to a node while its own engine is
being restarted may fail (that node is down); every other request must be
answered 200, and no visit a page showed may be lost: the counter rises by
at least the answers counted, and by no more than the requests that may have
counted (a page without a count, while the primary changes hands, may or may
not have been counted, as in verify.yml). The windows come from site.yml's own task times (the JSON
callback): from its first look at NODE ("Read the swarm state of NODE",
before the drain stops the node's load balancer) to the end of the wait
until every service runs all its tasks again after NODE's restart.

Runs on the default scenario's swarm, whose only manager is restarted too.
It leaves the engines with the changed setting (one more log file kept), so
it runs after the other tests (hence "zy") but before the backup test, which
makes every node anew.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from swarmlab import INVENTORY, LOAD_INTERVAL, MEASURED, Lab
from swarmstack_harness.http import CONNECTION_ERRORS, request

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not INVENTORY, reason="needs a live swarm: set SWARMSTACK_INVENTORY"),
]

DAEMON_JSON = "/etc/docker/daemon.json"
FIRST = re.compile(r"Read the swarm state of (\S+)$")  # after "role : " when in a role
RESTART = re.compile(r"Restart the engine of (\S+)$")
SETTLED = "Wait until every service of the swarm runs all its tasks"
SENTINEL_BACK = "Wait until the node's Sentinel could authorize a failover"


@dataclass
class NodeLoad:
    """Requests to one node's port 80, one after the other, each with its times.

    At most one every `interval` seconds (as swarmlab's Load), so the load
    does not take the CPU the restarts need.
    """

    url: str
    answers: list[tuple[float, float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    interval: float = LOAD_INTERVAL

    def run(self) -> None:
        due = time.monotonic()
        while not self.stop.is_set():
            due = max(due + self.interval, time.monotonic())
            self.stop.wait(due - time.monotonic())
            if self.stop.is_set():
                break
            started = time.time()
            try:
                answer = request(self.url, timeout=5)
                if answer.status != 200:
                    outcome = f"HTTP {answer.status}"
                else:
                    outcome = "counted" if answer.visits() is not None else "no count"
            except CONNECTION_ERRORS as err:
                outcome = f"error {type(err).__name__}"
            self.answers.append((started, time.time(), outcome))
            if outcome.startswith("error"):
                self.stop.wait(0.2)


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def restart_windows(report: dict) -> dict[str, tuple[float, float]]:
    """Each restarted node's window: its engine's restart until the swarm was whole again."""
    windows: dict[str, tuple[float, float]] = {}
    restarted: set[str] = set()
    node = None
    for play in report["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"]
            times = task["task"]["duration"]
            if match := FIRST.search(name):
                node = match.group(1)
                windows[node] = (epoch(times["start"]), epoch(times["end"]))
            elif (match := RESTART.search(name)) and match.group(1) == node:
                restarted.add(node)
            elif name.endswith(SETTLED) and node in windows:
                windows[node] = (windows[node][0], epoch(times["end"]))
    return {node: window for node, window in windows.items() if node in restarted}


def sentinel_waits(report: dict) -> list[str]:
    """The nodes whose Sentinel site.yml waited for (not skipped) after their restart."""
    waited = []
    node = None
    for play in report["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"]
            if match := FIRST.search(name):
                node = match.group(1)
            elif (
                name.endswith(SENTINEL_BACK)
                and node is not None
                and any(not result.get("skipped") for result in task["hosts"].values())
            ):
                waited.append(node)
    return waited


def changed_settings(lab: Lab) -> dict:
    """dockerd's settings as on the nodes, with one more (or one fewer) log file kept."""
    first = lab.hosts[0]
    read = lab.module(first, "ansible.builtin.slurp", src=DAEMON_JSON)[first]
    options = json.loads(base64.b64decode(read["content"]))
    kept = options.setdefault("log-opts", {}).get("max-file", "3")
    options["log-opts"]["max-file"] = "4" if kept != "4" else "5"
    return {"docker_engine_daemon_options": options}


def test_changed_docker_settings_restart_the_engines_without_a_failed_request(lab: Lab) -> None:
    changed = changed_settings(lab)
    loads = {host: NodeLoad(lab.url(host)) for host in lab.hosts}
    before = lab.visits()
    threads = [threading.Thread(target=load.run) for load in loads.values()]
    for thread in threads:
        thread.start()
    try:
        run = lab.playbook(
            "site.yml",
            "-e",
            json.dumps(changed),
            env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_JSON_INDENT": "0"},
        )
    finally:
        for load in loads.values():
            load.stop.set()
        for thread in threads:
            thread.join()
    after = lab.visits()
    assert run.rc == 0, run.output[-3000:]
    report, _ = json.JSONDecoder().raw_decode(run.output, run.output.index("{"))
    windows = restart_windows(report)
    assert sorted(windows) == sorted(lab.hosts), f"every engine restarted once: {windows}"
    # Each node runs a Sentinel here: the next node waited until it had a quorum.
    waited = sentinel_waits(report)
    assert sorted(waited) == sorted(lab.hosts), f"Sentinels waited for after restarts: {waited}"

    tally: Counter[str] = Counter()
    failed = []
    for host, load in loads.items():
        down_from, down_to = windows[host]
        for started, ended, outcome in load.answers:
            excused = ended >= down_from and started <= down_to
            tally[f"{outcome}{' (node down)' if excused else ''}"] += 1
            if not outcome.startswith(("counted", "no count")) and not excused:
                failed.append((host, round(started - down_from, 1), outcome))
    counted = tally["counted"] + tally["counted (node down)"]
    maybe = tally["no count"] + tally["no count (node down)"]
    rose = after - before - 1
    MEASURED.append(
        f"rolling engine restart: {run.seconds:.0f} s, counter +{rose}, "
        + ", ".join(f"{key} {n}" for key, n in sorted(tally.items()))
    )
    assert not failed, f"requests to nodes that were up failed: {failed[:20]} ({tally})"
    assert counted <= rose <= counted + maybe, f"the counter rose by {rose}: {tally}"
