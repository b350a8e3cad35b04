"""Preflight on a lab of its own: the swarm ports between the nodes, and what needs two machines.

Two lab nodes (the `lab` fixture of conftest.py, on 172.30.60.0/24), made
once for the module and removed at its end whatever happened; two keep the
module within a few minutes on a two-core machine, and the probes work the
same between more. The nodes start as plain hosts, where images.yml names
them and stops: Docker Engine comes from playbooks/docker.yml, first with a
node whose package mirror does not answer. A port is blocked with iptables
inside a node (docker.io brings it), as a firewall on that host would block
it.
"""

from __future__ import annotations

import re
import subprocess

import pytest

pytestmark = pytest.mark.docker

PORTS = ("2377", "7946", "4789")
# Where apt looks for packages on a node; the base image has the first only.
APT_SOURCES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d/debian.sources")
# A loopback port where nothing answers: no traffic leaves the node.
DEAD_MIRROR = "http://127.0.0.1:9/debian"


def docker_runs(lab, node: str) -> bool:
    return (
        subprocess.run(
            ["docker", "exec", lab.container(node), "docker", "info"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


def break_apt_sources(lab, node: str) -> None:
    """Point the node's apt sources at DEAD_MIRROR, keeping a copy of each beside it."""
    for path in APT_SOURCES:
        keep = f"cp -a {path} {path}.pftest"
        dead = f"sed -E -i 's#https?://[^ ]+#{DEAD_MIRROR}#' {path}"
        lab.on_node(node, "sh", "-c", f"[ ! -e {path} ] || {{ {keep} && {dead}; }}")


def restore_apt_sources(lab, node: str) -> None:
    for path in APT_SOURCES:
        lab.on_node(node, "sh", "-c", f"[ ! -e {path}.pftest ] || mv {path}.pftest {path}")


@pytest.fixture(scope="module")
def docker_installed(lab):
    """Docker Engine on every node, installed once by playbooks/docker.yml."""
    if not all(docker_runs(lab, node) for node in lab.nodes):
        run = lab.run("playbooks/docker.yml")
        assert run.rc == 0, run.output
    return lab


def left_behind(lab, node: str) -> str:
    """Responder processes and sockets on the swarm ports of a node, if any."""
    processes = lab.on_node(node, "ps", "-eo", "pid,args")
    sockets = lab.on_node(node, "ss", "-Htuln")
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


def test_the_lab_passes_with_nothing_blocked_and_even_managers_are_warned_about(lab) -> None:
    run = lab.preflight(managers=("vCon01", "vCon02"))
    assert run.rc == 0, run.output
    assert "WARNING: 2 managers." in run.flat
    assert "use an odd number (1, 3 or 5)" in run.flat
    assert "cannot reach" not in run.flat
    assert "Not probed" not in run.flat
    assert "changed=0" in run.flat
    assert {node: left_behind(lab, node) for node in lab.nodes} == dict.fromkeys(lab.nodes, "")


def test_images_names_the_nodes_without_docker_and_changes_nothing(lab) -> None:
    """images.yml before site.yml: the nodes are plain, so it names them and the playbook to run."""
    assert not any(docker_runs(lab, node) for node in lab.nodes)
    run = lab.run("playbooks/images.yml")
    assert run.rc != 0
    assert (
        "vCon01: docker is not installed; vCon02: docker is not installed. images.yml puts the"
        " images on nodes that run Docker: run site.yml (or playbooks/docker.yml) first."
        " Nothing was changed." in run.flat
    ), run.output
    assert "changed=0" in run.flat
    assert not re.search(r"changed=[1-9]", run.flat), run.output


def test_docker_names_a_node_whose_mirror_does_not_answer_and_a_second_run_finishes(
    lab,
) -> None:
    """docker.yml installs Docker on the plain nodes; apt's failure names the node and the fix."""
    try:
        break_apt_sources(lab, "vCon02")
        broken = lab.run("playbooks/docker.yml")
    finally:
        restore_apt_sources(lab, "vCon02")
    assert broken.rc != 0
    assert re.search(
        r"vCon02: apt could not install [\w.+-]+(, [\w.+-]+)*: .+?\. Check that the node reaches"
        r" its package mirror \(its /etc/apt/sources\.list and any proxy\), then run site\.yml"
        r" again: it goes on from where this run stopped\.",
        broken.flat,
    ), broken.output
    assert "vCon01: apt could not install" not in broken.flat
    again = lab.run("playbooks/docker.yml")
    assert again.rc == 0, again.output
    assert {node: docker_runs(lab, node) for node in lab.nodes} == dict.fromkeys(lab.nodes, True)


def test_a_blocked_port_is_named_with_the_pair_unless_the_check_is_off(docker_installed) -> None:
    lab = docker_installed
    rules = {
        "vCon01": ["INPUT", "-p", "tcp", "--dport", "2377", "-j", "DROP"],
        "vCon02": ["INPUT", "-p", "udp", "--dport", "7946", "-j", "DROP"],
    }
    for node, rule in rules.items():
        lab.on_node(node, "iptables", "-I", *rule)
    try:
        run = lab.preflight()
        off = lab.preflight("-e", "preflight_swarm_ports_check=false")
    finally:
        for node, rule in rules.items():
            lab.on_node(node, "iptables", "-D", *rule)
    assert run.rc != 0
    assert (
        "vCon01 cannot reach vCon02 (172.30.60.12) on 7946/udp: no echo in 2 s;"
        " vCon02 cannot reach vCon01 (172.30.60.11) on 2377/tcp: no answer in 2 s."
        + HINT
        in run.flat
    ), run.flat
    assert {node: left_behind(lab, node) for node in lab.nodes} == dict.fromkeys(lab.nodes, "")
    assert off.rc == 0, off.output
    assert "cannot reach" not in off.flat


def test_a_formed_swarm_passes_with_its_tcp_ports_probed_and_its_udp_ports_named(
    docker_installed,
) -> None:
    lab = docker_installed
    manager = lab.nodes["vCon01"]
    lab.on_node("vCon01", "docker", "swarm", "init", "--advertise-addr", manager)
    try:
        token = lab.on_node("vCon01", "docker", "swarm", "join-token", "-q", "worker").strip()
        lab.on_node("vCon02", "docker", "swarm", "join", "--token", token, f"{manager}:2377")
        run = lab.preflight()
    finally:
        for node in ("vCon02", "vCon01"):
            lab.on_node(node, "docker", "swarm", "leave", "--force", check=False)
    assert run.rc == 0, run.output
    assert "cannot reach" not in run.flat
    assert (
        "Not probed: 7946/udp and 4789/udp of vCon01; 7946/udp and 4789/udp of vCon02."
        " On a swarm member these UDP ports belong to Docker"
        " (7946/udp to dockerd for its gossip, 4789/udp to the VXLAN device of the kernel),"
        " elsewhere to another program: no responder of ours may answer there, and those"
        " sockets send back nothing a probe could check. Every TCP port was probed." in run.flat
    ), run.flat
