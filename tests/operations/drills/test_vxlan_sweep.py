"""A VXLAN interface dockerd left behind: the node's sweeper deletes it, and the node serves again.

What the drills scenario met on 2026-12-08: after the worker-loss drill the
worker's engine, starting again, found a stale sandbox of the stack's
network, failed to move the network's VXLAN interface into the new one, and
left it in the host's namespace (moby/libnetwork#1765). Every later task of
that network on the node was then rejected ("error creating vxlan interface:
file exists"): the global load balancer never ran there again, and its port
80 stayed closed for the 15 minutes until verify.yml gave up. Deleting the
interface by hand brought it back in 10 s.

Here the same state is made on purpose on a worker: the sweeper stopped,
the node drained until it has no sandbox of the network, the interface made
as dockerd names it (vx-<VNI>-<network ID>, the network's VNI), the node
made active again. The load balancer's task must be rejected as in CI, then,
once the sweeper runs again (as after a boot), the interface must go, the
task run and the node's port 80 count visits. The swarm is left with every
node active; web's tasks stay where the drain moved them.
"""

from __future__ import annotations

import time

import pytest
from swarmlab import INVENTORY, MEASURED, STACK, Lab
from swarmstack_harness.http import CONNECTION_ERRORS, request
from swarmstack_harness.wait import wait_for

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not INVENTORY, reason="needs a live swarm: set SWARMSTACK_INVENTORY"),
]
SWEEPER = "swarmstack-vxlan-sweep"
FILE_EXISTS = "error creating vxlan interface: file exists"


def shell(lab: Lab, host: str, cmd: str) -> str:
    """A command's output on `host` (as root); it must succeed. Kept from Jinja: Go templates."""
    done = lab.module(host, "ansible.builtin.shell", cmd="{% raw %}" + cmd + "{% endraw %}")[host]
    assert done.get("rc") == 0, done
    return done["stdout"]


def sweeper(lab: Lab, host: str, state: str) -> None:
    done = lab.module(host, "ansible.builtin.systemd_service", name=SWEEPER, state=state)[host]
    assert not done.get("failed"), done


def lb_errors(lab: Lab, name: str) -> list[str]:
    """The errors of the load balancer's tasks on the node named `name`, in no order."""
    listed = shell(
        lab,
        lab.managers[0],
        f"docker service ps {STACK}_lb --filter node={name} --no-trunc --format '{{{{.Error}}}}'",
    )
    return [line for line in listed.splitlines() if line]


def test_a_vxlan_interface_left_behind_is_swept_and_the_node_serves_again(lab: Lab) -> None:
    assert lab.workers, "the inventory needs a worker"
    node = lab.workers[-1]
    name = lab.hostname[node]
    manager = lab.managers[0]
    network, vni = shell(
        lab,
        manager,
        f"docker network inspect {STACK}_webnet --format "
        "'{{.Id}} {{index .Options \"com.docker.network.driver.overlay.vxlanid_list\"}}'",
    ).split()
    interface = f"vx-{int(vni):06x}-{network[:5]}"
    sandbox = f"/var/run/docker/netns/1-{network[:10]}"
    assert shell(lab, node, f"systemctl is-active {SWEEPER}").strip() == "active"

    sweeper(lab, node, "stopped")
    try:
        shell(lab, manager, f"docker node update --availability drain {name}")
        wait_for(
            f"{name} to run no task and have no sandbox of {STACK}_webnet",
            lambda: (
                name not in lab.running("lb")
                and shell(lab, node, f"test -e {sandbox} && echo held || echo gone").strip()
                == "gone"
            ),
            120,
            step=2,
        )
        assert not [e for e in lb_errors(lab, name) if FILE_EXISTS in e], "met before the test"
        shell(lab, node, f"ip link add {interface} type vxlan id {vni} dstport 4789")
        shell(lab, manager, f"docker node update --availability active {name}")
        wait_for(
            f"the load balancer's task on {name} to be rejected with {FILE_EXISTS!r}",
            lambda: [e for e in lb_errors(lab, name) if FILE_EXISTS in e],
            60,
            step=2,
        )
        # Without the sweeper the interface stays, and so does the rejection.
        assert interface in shell(lab, node, "ip -o link show type vxlan")
        started = time.monotonic()
        sweeper(lab, node, "started")
        page = wait_for(
            f"port 80 of {name} to count a visit",
            lambda: request(lab.url(node), timeout=5).visits(),
            120,
            step=1,
            errors=CONNECTION_ERRORS,
        )
        seconds = time.monotonic() - started
    finally:
        sweeper(lab, node, "started")
        shell(lab, manager, f"docker node update --availability active {name}")
    MEASURED.append(
        f"vxlan sweep: {interface} on {name} deleted, port 80 counting again {seconds:.1f} s "
        f"after the sweeper started (visit {page})"
    )
    assert name in lab.running("lb")
    assert interface not in shell(lab, node, "ip -o link show type vxlan")
    said = shell(lab, node, f"journalctl -u {SWEEPER} --no-pager -o cat")
    assert f"deleted {interface}" in said, said[-2000:]
