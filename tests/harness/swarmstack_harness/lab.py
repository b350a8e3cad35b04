"""Lab nodes of the project's lab role: containers on this machine that behave like
plain Debian hosts (systemd, sshd, the user ``ops`` with sudo), made and removed by
playbooks/lab.yml and reached with ``docker exec`` or over SSH, as a user's hosts are.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swarmstack_harness.ansible import Run, run_playbook, write_inventory


class LabError(RuntimeError):
    """A command on a lab node failed; the message says which and what it printed."""


@dataclass
class LabNode:
    """One lab node: its inventory name, address, container, and whether it is a manager."""

    name: str
    address: str
    container: str
    manager: bool = False


@dataclass
class Lab:
    """The nodes of one lab (``lab_name`` on ``lab_subnet``) and where its key lives."""

    name: str
    subnet: str
    state_dir: Path
    hosts: list[LabNode] = field(default_factory=list)
    user: str = "ops"

    @classmethod
    def from_inventory(cls, inventory: Path) -> Lab:
        """The lab an inventory directory describes (hosts.yml, group_vars/swarm.yml), as
        inventory/lab and inventory/bench do: managers first, then workers."""
        hosts = yaml.safe_load((inventory / "hosts.yml").read_text())["swarm"]["children"]
        settings = yaml.safe_load((inventory / "group_vars" / "swarm.yml").read_text())
        nodes = [
            LabNode(
                name,
                str(spec["ansible_host"]),
                str(spec.get("lab_container_name", name)),
                group == "managers",
            )
            for group in ("managers", "workers")
            for name, spec in (hosts.get(group, {}).get("hosts") or {}).items()
        ]
        # lab_state_dir: "{{ inventory_dir | dirname | dirname }}/.lab/{{ lab_name }}"
        state_dir = inventory.resolve().parents[1] / ".lab" / settings["lab_name"]
        return cls(settings["lab_name"], settings["lab_subnet"], state_dir, nodes)

    @property
    def key(self) -> Path:
        """The lab's SSH key, which the lab role makes."""
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        """The nodes' host keys, which the lab role records."""
        return self.state_dir / "known_hosts"

    @property
    def manager(self) -> LabNode:
        """The first manager."""
        return next(node for node in self.hosts if node.manager)

    def node(self, node: LabNode | str) -> LabNode:
        """A node, or the node of that name."""
        if isinstance(node, LabNode):
            return node
        return next(found for found in self.hosts if found.name == node)

    def container(self, node: LabNode | str) -> str:
        """The name of a node's container."""
        return self.node(node).container

    def inventory(
        self,
        managers: list[str] | None = None,
        host_vars: dict[str, dict] | None = None,
        **group_vars: Any,
    ) -> dict[str, Any]:
        """The lab as an inventory, reached over SSH as ``user`` with the lab's key.

        ``managers`` (default: the nodes marked so) are the managers, the others
        workers; ``host_vars`` adds to or overrides a node's variables, ``group_vars``
        the group's.
        """
        chosen = [n.name for n in self.hosts if n.manager] if managers is None else managers

        def hosts(names: list[str]) -> dict:
            return {
                node.name: {
                    "ansible_host": node.address,
                    "lab_container_name": node.container,
                    **(host_vars or {}).get(node.name, {}),
                }
                for node in self.hosts
                if node.name in names
            }

        return {
            "swarm": {
                "children": {
                    "managers": {"hosts": hosts(chosen)},
                    "workers": {
                        "hosts": hosts([n.name for n in self.hosts if n.name not in chosen])
                    },
                },
                "vars": {
                    "lab_name": self.name,
                    "lab_subnet": self.subnet,
                    "lab_state_dir": str(self.state_dir),
                    "ansible_user": self.user,
                    "ansible_ssh_private_key_file": str(self.key),
                    "ansible_ssh_common_args": (
                        f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"
                    ),
                    **group_vars,
                },
            }
        }

    def write_inventory(self, path: Path, **settings: Any) -> Path:
        """``inventory(**settings)`` written to path."""
        return write_inventory(path, self.inventory(**settings))

    def up(self, inventory: str | Path, *extra: str, **kwargs: Any) -> Run:
        """Make the nodes (or find them made): playbooks/lab.yml."""
        return run_playbook("playbooks/lab.yml", inventory, *extra, **kwargs)

    def down(self, inventory: str | Path, *extra: str, **kwargs: Any) -> Run:
        """Remove the nodes, their volumes, the network and the key: lab_state=absent."""
        return run_playbook(
            "playbooks/lab.yml", inventory, "-e", "lab_state=absent", *extra, **kwargs
        )

    def on_node(self, node: LabNode | str, *argv: str, check: bool = True) -> str:
        """Run a command as root inside a node's container; its output."""
        return subprocess.run(
            ["docker", "exec", self.container(node), *argv],
            capture_output=True,
            text=True,
            check=check,
        ).stdout

    def ssh(
        self,
        node: LabNode | str,
        command: str,
        *,
        input_data: bytes | None = None,
        timeout: float = 1800,
    ) -> str:
        """Run a shell command on a node over SSH as ``user``, as an operator does; its output."""
        node = self.node(node)
        argv = [
            "ssh",
            "-i",
            str(self.key),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            f"{self.user}@{node.address}",
            command,
        ]
        result = subprocess.run(
            argv, input=input_data, capture_output=True, timeout=timeout, check=False
        )
        if result.returncode:
            raise LabError(
                f"ssh {node.name} {command[:60]!r} failed ({result.returncode}): "
                f"{result.stderr.decode(errors='replace').strip()[-2000:]}"
            )
        return result.stdout.decode(errors="replace")
