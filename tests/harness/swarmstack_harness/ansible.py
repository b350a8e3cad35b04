"""Ansible run as a user runs it: ansible-playbook, ad-hoc modules, ansible-inventory.

Every run uses the checkout's ansible.cfg, from the checkout, without colour,
and keeps what it printed in a ``Run``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swarmstack_harness import BIN, ROOT

RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)
"""A host's line of the PLAY RECAP."""


def ansible_env(**extra: str) -> dict[str, str]:
    """This process's environment with the checkout's ansible.cfg and no colour, then extra."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",  # Molecule sets it; colour codes hide the PLAY RECAP
        **extra,
    }


def recap(output: str) -> dict[str, dict[str, int]]:
    """ok, changed, unreachable and failed of each host in a PLAY RECAP."""
    return {
        m["host"]: {key: int(m[key]) for key in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(output)
    }


def changed(output: str) -> dict[str, int]:
    """changed=N of each host in a PLAY RECAP."""
    return {host: counts["changed"] for host, counts in recap(output).items()}


@dataclass
class Run:
    """The outcome of one ansible-playbook run."""

    rc: int
    output: str
    seconds: float = 0.0
    flat: str = field(init=False)

    def __post_init__(self) -> None:
        # Ansible folds long messages; compare on single spaces.
        self.flat = " ".join(self.output.split())

    def changed(self) -> dict[str, int]:
        """changed=N of each host in the PLAY RECAP."""
        return changed(self.output)

    def recap(self) -> dict[str, dict[str, int]]:
        """ok, changed, unreachable and failed of each host in the PLAY RECAP."""
        return recap(self.output)


def run_playbook(
    path: str,
    inventory: str | Path,
    *extra: str,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> Run:
    """Run a playbook of the checkout (path relative to it) against an inventory."""
    started = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / path), *extra],
        cwd=ROOT,
        env=ansible_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


def run_module(
    pattern: str, module: str, inventory: str | Path, /, **args: Any
) -> dict[str, dict[str, Any]]:
    """One module on the hosts of ``pattern``, with become: each host's result.

    A host that fails or is unreachable fails the call, naming the host.
    """
    proc = subprocess.run(
        [str(BIN / "ansible"), pattern, "-i", str(inventory), "-b", "-m", module]
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


def list_inventory(inventory: str | Path) -> dict[str, Any]:
    """ansible-inventory --list of an inventory: groups, and hostvars under _meta."""
    return json.loads(
        subprocess.run(
            [str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
            env=ansible_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def write_inventory(path: Path, inventory: dict[str, Any]) -> Path:
    """An inventory given as a dict, written as YAML to path."""
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return path
