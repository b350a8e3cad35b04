"""Run the project's playbooks as a user would, with inventories made per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from swarmstack_harness import BIN, in_ci
from swarmstack_harness.ansible import Run, run_playbook, write_inventory
from swarmstack_harness.engine import engine_answers
from swarmstack_harness.lab import Lab, LabNode

# A playbook here gets 300 s: the preflight and lab playbooks take seconds to a minute.
TIMEOUT = 300


def run_project_playbook(
    path: str, inventory: Path, *extra: str, env: dict[str, str] | None = None
) -> Run:
    """Run a playbook of the project against an inventory file."""
    return run_playbook(path, inventory, *extra, env=env, timeout=TIMEOUT)


@pytest.fixture
def playbook(tmp_path: Path):
    """Run a playbook of the project against an inventory given as a dict."""

    def run(path: str, inventory: dict, *extra: str, env: dict[str, str] | None = None) -> Run:
        inv = write_inventory(tmp_path / "hosts.yml", inventory)
        return run_project_playbook(path, inv, *extra, env=env)

    return run


@pytest.fixture(scope="session")
def playbook_file():
    """Run a playbook of the project against an inventory file, from fixtures of any scope."""
    return run_project_playbook


@pytest.fixture(scope="session")
def playbook_python() -> str:
    """The interpreter ansible-playbook runs with (ansible_playbook_python): its shebang's."""
    shebang = (BIN / "ansible-playbook").read_text(encoding="utf-8").splitlines()[0]
    return shebang.removeprefix("#!").strip()


class PreflightLab(Lab):
    """Two lab nodes (roles/lab) of the module's own, reached over SSH as a user's hosts are.

    Every playbook run gets SSH connections of its own, so that a key, host
    key or user changed between two runs is checked anew, as it is for a
    user whose run comes minutes after the last one.
    """

    def __init__(self, work: Path) -> None:
        name = "swarmstack-pftest"
        super().__init__(
            name,
            "172.30.60.0/24",
            work / "lab",
            [
                LabNode(node, address, f"{name}-{node}")
                for node, address in (("vCon01", "172.30.60.11"), ("vCon02", "172.30.60.12"))
            ],
        )
        self.work = work
        self._runs = 0

    @property
    def nodes(self) -> dict[str, str]:
        """Each node's address, by name."""
        return {node.name: node.address for node in self.hosts}

    def inventory_file(self, managers: list[str], host_vars: dict[str, dict] | None = None) -> Path:
        """A new inventory file of the lab, for one run."""
        self._runs += 1
        return self.write_inventory(
            self.work / f"hosts-{self._runs}.yml",
            managers=managers,
            host_vars=host_vars,
            # SSH masters of this run only: none of an earlier run or lab is reused.
            ansible_control_path_dir=str(self.work / f"cp{self._runs}"),
        )

    def run(
        self,
        path: str,
        *extra: str,
        managers: tuple[str, ...] = ("vCon01",),
        host_vars: dict[str, dict] | None = None,
    ) -> Run:
        """Run a playbook of the project against the lab."""
        return run_project_playbook(path, self.inventory_file(list(managers), host_vars), *extra)

    def preflight(self, *extra: str, **settings: Any) -> Run:
        return self.run("playbooks/preflight.yml", *extra, **settings)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreflightLab]:
    """The two-node lab on 172.30.60.0/24, made for the module and removed at its end."""
    if not engine_answers():
        if in_ci():
            pytest.fail(
                "No Docker engine answers, and under CI a lab test fails rather than skip:"
                " run `make setup` (it starts dockerd) before the tests."
            )
        pytest.skip("no Docker engine answers")
    lab = PreflightLab(tmp_path_factory.mktemp("pftest"))
    hosts = lab.inventory_file(["vCon01"])
    try:
        made = lab.up(hosts, timeout=TIMEOUT)
        assert made.rc == 0, made.output
        yield lab
    finally:
        gone = lab.down(hosts, timeout=TIMEOUT)
        assert gone.rc == 0, gone.output
