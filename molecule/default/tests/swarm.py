"""What the testinfra modules share: the stack's name, the docker client of a
node, and the Molecule inventory's groups for their `testinfra_hosts`."""

from __future__ import annotations

import os

from testinfra.utils.ansible_runner import AnsibleRunner, itergroup

STACK = "swarmstack"


def docker(host, *args: str) -> str:
    with host.sudo():
        return host.check_output("docker " + " ".join(args))


def inventory_group(name: str) -> list[str]:
    """The hosts of a group of the Molecule inventory, in the inventory's order.

    The order is Ansible's: `groups['managers'] | first` in the roles (such as
    stack_redis_host's default) is the first host here.
    """
    inventory_file = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory_file:
        raise RuntimeError("MOLECULE_INVENTORY_FILE is unset: run these tests with molecule verify")
    # The group's own hosts, then its children's, as Ansible orders them.
    hosts = list(dict.fromkeys(itergroup(AnsibleRunner(inventory_file).inventory, name)))
    if not hosts:
        raise RuntimeError(f"the Molecule inventory {inventory_file} has no host in {name}")
    return hosts
