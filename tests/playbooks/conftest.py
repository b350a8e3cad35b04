"""Run the project's playbooks as a user would, with inventories made per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


class Run:
    """The outcome of one ansible-playbook run."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        # Ansible folds long messages; compare on single spaces.
        self.flat = " ".join(self.output.split())


def run_playbook(path: str, inventory: Path, *extra: str, env: dict[str, str] | None = None) -> Run:
    """Run a playbook of the project against an inventory file."""
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(ROOT / path), *extra],
        cwd=ROOT,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(proc)


@pytest.fixture
def playbook(tmp_path: Path):
    """Run a playbook of the project against an inventory given as a dict."""

    def run(path: str, inventory: dict, *extra: str, env: dict[str, str] | None = None) -> Run:
        inv = tmp_path / "hosts.yml"
        inv.write_text(yaml.safe_dump(inventory), encoding="utf-8")
        return run_playbook(path, inv, *extra, env=env)

    return run


@pytest.fixture(scope="session")
def playbook_file():
    """Run a playbook of the project against an inventory file, from fixtures of any scope."""
    return run_playbook


@pytest.fixture(scope="session")
def playbook_python() -> str:
    """The interpreter ansible-playbook runs with (ansible_playbook_python): its shebang's."""
    return ANSIBLE_PLAYBOOK.read_text(encoding="utf-8").splitlines()[0].removeprefix("#!").strip()


def engine_answers() -> bool:
    """Whether a Docker engine answers on this machine."""
    return bool(shutil.which("docker")) and (
        subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    )


def in_ci() -> bool:
    """Whether this run is CI's, where a missing prerequisite is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class Lab:
    """Two lab nodes (roles/lab) of the module's own, reached over SSH as a user's hosts are.

    Every playbook run gets SSH connections of its own, so that a key, host
    key or user changed between two runs is checked anew, as it is for a
    user whose run comes minutes after the last one.
    """

    name = "swarmstack-pftest"
    subnet = "172.30.60.0/24"
    nodes: ClassVar[dict[str, str]] = {"vCon01": "172.30.60.11", "vCon02": "172.30.60.12"}

    def __init__(self, work: Path) -> None:
        self.work = work
        self.state = work / "lab"
        self.key = self.state / "id_ed25519"
        self.known_hosts = self.state / "known_hosts"
        self._runs = 0

    def container(self, node: str) -> str:
        return f"{self.name}-{node}"

    def on_node(self, node: str, *argv: str, check: bool = True) -> str:
        """Run a command as root inside a lab node's container; its output."""
        return subprocess.run(
            ["docker", "exec", self.container(node), *argv],
            capture_output=True,
            text=True,
            check=check,
        ).stdout

    def inventory(
        self, managers: list[str], host_vars: dict[str, dict] | None = None, number: int = 0
    ) -> dict[str, Any]:
        """The lab as an inventory; ``host_vars`` adds to or overrides a node's variables."""

        def hosts(names: list[str]) -> dict:
            return {
                name: {
                    "ansible_host": self.nodes[name],
                    "lab_container_name": self.container(name),
                    **(host_vars or {}).get(name, {}),
                }
                for name in names
            }

        return {
            "swarm": {
                "children": {
                    "managers": {"hosts": hosts(managers)},
                    "workers": {"hosts": hosts([n for n in self.nodes if n not in managers])},
                },
                "vars": {
                    "lab_name": self.name,
                    "lab_subnet": self.subnet,
                    "lab_state_dir": str(self.state),
                    "ansible_user": "ops",
                    "ansible_ssh_private_key_file": str(self.key),
                    "ansible_ssh_common_args": (
                        f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"
                    ),
                    # SSH masters of this run only: none of an earlier run or lab is reused.
                    "ansible_control_path_dir": str(self.work / f"cp{number}"),
                },
            }
        }

    def inventory_file(self, managers: list[str], host_vars: dict[str, dict] | None = None) -> Path:
        """A new inventory file of the lab, for one run."""
        self._runs += 1
        path = self.work / f"hosts-{self._runs}.yml"
        inventory = self.inventory(managers, host_vars, self._runs)
        path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
        return path

    def run(
        self,
        path: str,
        *extra: str,
        managers: tuple[str, ...] = ("vCon01",),
        host_vars: dict[str, dict] | None = None,
    ) -> Run:
        """Run a playbook of the project against the lab."""
        return run_playbook(path, self.inventory_file(list(managers), host_vars), *extra)

    def preflight(self, *extra: str, **settings: Any) -> Run:
        return self.run("playbooks/preflight.yml", *extra, **settings)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The two-node lab on 172.30.60.0/24, made for the module and removed at its end."""
    if not engine_answers():
        if in_ci():
            pytest.fail(
                "No Docker engine answers, and under CI a lab test fails rather than skip:"
                " run `make setup` (it starts dockerd) before the tests."
            )
        pytest.skip("no Docker engine answers")
    lab = Lab(tmp_path_factory.mktemp("pftest"))
    hosts = lab.inventory_file(["vCon01"])
    try:
        made = run_playbook("playbooks/lab.yml", hosts)
        assert made.rc == 0, made.output
        yield lab
    finally:
        gone = run_playbook("playbooks/lab.yml", hosts, "-e", "lab_state=absent")
        assert gone.rc == 0, gone.output
