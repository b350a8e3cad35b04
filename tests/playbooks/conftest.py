"""Run the project's playbooks as a user would, with inventories made per test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
