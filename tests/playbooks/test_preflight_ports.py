"""Preflight on a lab of its own: the swarm ports between the nodes, and what needs two machines.

Two lab nodes (roles/lab) on 172.30.60.0/24, made once for the module and
removed at its end whatever happened; two keep the module within about three
minutes on a two-core machine, and the probes work the same between more.
A port is blocked with iptables inside a node, as a firewall on that host
would block it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.docker

LAB = "swarmstack-pftest"
NODES = {"vCon01": "172.30.60.11", "vCon02": "172.30.60.12"}
PORTS = ("2377", "7946", "4789")


def engine_answers() -> bool:
    return bool(shutil.which("docker")) and (
        subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    )


def container(node: str) -> str:
    return f"{LAB}-{node}"


def on_node(node: str, *argv: str) -> str:
    """Run a command as root inside a lab node's container."""
    return subprocess.run(
        ["docker", "exec", container(node), *argv], capture_output=True, text=True, check=True
    ).stdout


def inventory(state: Path, managers: list[str]) -> dict:
    def hosts(names: list[str]) -> dict:
        return {
            name: {"ansible_host": NODES[name], "lab_container_name": container(name)}
            for name in names
        }

    return {
        "swarm": {
            "children": {
                "managers": {"hosts": hosts(managers)},
                "workers": {"hosts": hosts([n for n in NODES if n not in managers])},
            },
            "vars": {
                "lab_name": LAB,
                "lab_subnet": "172.30.60.0/24",
                "lab_state_dir": str(state),
                "ansible_user": "ops",
                "ansible_ssh_private_key_file": str(state / "id_ed25519"),
                "ansible_ssh_common_args": (
                    f"-o UserKnownHostsFile={state}/known_hosts -o StrictHostKeyChecking=yes"
                ),
                # Its own SSH masters: none of an earlier lab at these addresses is reused.
                "ansible_control_path_dir": str(state.parent / "cp"),
            },
        }
    }


class Lab:
    def __init__(self, work: Path, run) -> None:
        self.work = work
        self._run = run

    def inventory_file(self, managers: list[str]) -> Path:
        path = self.work / f"hosts-{'-'.join(managers)}.yml"
        path.write_text(yaml.safe_dump(inventory(self.work / "lab", managers)), encoding="utf-8")
        return path

    def preflight(self, *extra: str, managers: tuple[str, ...] = ("vCon01",)):
        return self._run("playbooks/preflight.yml", self.inventory_file(list(managers)), *extra)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, playbook_file) -> Iterator[Lab]:
    if not engine_answers():
        pytest.skip("no Docker engine answers")
    work = tmp_path_factory.mktemp("pftest")
    lab = Lab(work, playbook_file)
    hosts = lab.inventory_file(["vCon01"])
    try:
        made = playbook_file("playbooks/lab.yml", hosts)
        assert made.rc == 0, made.output
        yield lab
    finally:
        gone = playbook_file("playbooks/lab.yml", hosts, "-e", "lab_state=absent")
        assert gone.rc == 0, gone.output


def left_behind(node: str) -> str:
    """Responder processes and sockets on the swarm ports of a node, if any."""
    processes = on_node(node, "ps", "-eo", "pid,args")
    sockets = on_node(node, "ss", "-Htuln")
    return "\n".join(
        [line for line in processes.splitlines() if "port_responder.py" in line]
        + [line for line in sockets.splitlines() if any(f":{p} " in line for p in PORTS)]
    )


HINT = (
    " Swarm needs the managers' port (2377/tcp unless swarm_listen_port says otherwise),"
    " and 7946/tcp, 7946/udp and 4789/udp between every two nodes: open them in the"
    " firewalls between the nodes (a refused connection to a swarm member means that its"
    " Docker engine is not running), or set preflight_swarm_ports_check=false to skip this"
    " check. Nothing was changed."
)


def test_the_lab_passes_with_nothing_blocked_and_even_managers_are_warned_about(
    lab: Lab,
) -> None:
    run = lab.preflight(managers=("vCon01", "vCon02"))
    assert run.rc == 0, run.output
    assert "WARNING: 2 managers." in run.flat
    assert "use an odd number (1, 3 or 5)" in run.flat
    assert "cannot reach" not in run.flat
    assert "Not probed" not in run.flat
    assert "changed=0" in run.flat
    assert {node: left_behind(node) for node in NODES} == dict.fromkeys(NODES, "")


def test_a_blocked_port_is_named_with_the_pair_unless_the_check_is_off(lab: Lab) -> None:
    rules = {
        "vCon01": ["INPUT", "-p", "tcp", "--dport", "2377", "-j", "DROP"],
        "vCon02": ["INPUT", "-p", "udp", "--dport", "7946", "-j", "DROP"],
    }
    for node, rule in rules.items():
        on_node(node, "iptables", "-I", *rule)
    try:
        run = lab.preflight()
        off = lab.preflight("-e", "preflight_swarm_ports_check=false")
    finally:
        for node, rule in rules.items():
            on_node(node, "iptables", "-D", *rule)
    assert run.rc != 0
    assert (
        "vCon01 cannot reach vCon02 (172.30.60.12) on 7946/udp: no echo in 2 s;"
        " vCon02 cannot reach vCon01 (172.30.60.11) on 2377/tcp: no answer in 2 s."
        + HINT
        in run.flat
    ), run.flat
    assert {node: left_behind(node) for node in NODES} == dict.fromkeys(NODES, "")
    assert off.rc == 0, off.output
    assert "cannot reach" not in off.flat


def test_a_formed_swarm_passes_with_its_tcp_ports_probed_and_its_udp_ports_named(
    lab: Lab,
) -> None:
    on_node("vCon01", "docker", "swarm", "init", "--advertise-addr", NODES["vCon01"])
    try:
        token = on_node("vCon01", "docker", "swarm", "join-token", "-q", "worker").strip()
        on_node("vCon02", "docker", "swarm", "join", "--token", token, f"{NODES['vCon01']}:2377")
        run = lab.preflight()
    finally:
        for node in ("vCon02", "vCon01"):
            subprocess.run(
                ["docker", "exec", container(node), "docker", "swarm", "leave", "--force"],
                capture_output=True,
                check=False,
            )
    assert run.rc == 0, run.output
    assert "cannot reach" not in run.flat
    assert (
        "Not probed: 7946/udp and 4789/udp of vCon01; 7946/udp and 4789/udp of vCon02."
        " On a swarm member these UDP ports belong to Docker"
        " (7946/udp to dockerd for its gossip, 4789/udp to the VXLAN device of the kernel),"
        " elsewhere to another program: no responder of ours may answer there, and those"
        " sockets send back nothing a probe could check. Every TCP port was probed." in run.flat
    ), run.flat
