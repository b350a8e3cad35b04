"""playbooks/lab.yml refuses bad settings before it changes anything."""

from __future__ import annotations

import uuid

import pytest
from swarmstack_harness.engine import docker, engine_answers

pytestmark = pytest.mark.docker

needs_engine = pytest.mark.skipif(not engine_answers(), reason="no Docker engine answers")


def lab(tmp_path, name: str, subnet: str, address: str) -> dict:
    return {
        "swarm": {
            "children": {"managers": {"hosts": {name: {"ansible_host": address}}}},
            "vars": {
                "lab_name": f"swarmstack-test-{name.lower()}",
                "lab_subnet": subnet,
                "lab_state_dir": str(tmp_path / "lab"),
            },
        }
    }


def test_no_engine_is_said_plainly(playbook, tmp_path) -> None:
    run = playbook(
        "playbooks/lab.yml",
        lab(tmp_path, "tnoengine", "172.30.90.0/24", "172.30.90.11"),
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"},
    )
    assert run.rc != 0
    assert "No Docker engine answers on this machine" in run.flat
    assert "Run `make setup` as root" in run.flat


@needs_engine
def test_an_address_range_in_use_is_refused(playbook, tmp_path) -> None:
    taken = f"swarmstack-test-taken-{uuid.uuid4().hex[:8]}"
    docker("network", "create", "--subnet", "172.30.91.0/24", taken)
    try:
        run = playbook(
            "playbooks/lab.yml", lab(tmp_path, "trange", "172.30.91.0/25", "172.30.91.11")
        )
    finally:
        docker("network", "rm", taken)
    assert run.rc != 0
    assert "The lab's address range 172.30.91.0/25 is already in use on this machine:" in run.flat
    assert f"Docker network {taken} (172.30.91.0/24)" in run.flat
    assert "Nothing was changed." in run.flat
    assert not (tmp_path / "lab").exists()


@needs_engine
def test_an_address_outside_the_range_is_refused(playbook, tmp_path) -> None:
    run = playbook("playbooks/lab.yml", lab(tmp_path, "tout", "172.30.92.0/24", "172.30.93.11"))
    assert run.rc != 0
    assert "172.30.93.11 is not a usable address of 172.30.92.0/24" in run.flat


@needs_engine
def test_a_node_up_with_other_settings_is_refused(playbook, tmp_path) -> None:
    name = f"tother{uuid.uuid4().hex[:6]}"
    images = docker("images", "-q", "swarmstack/base:bookworm").split()
    if not images:
        pytest.skip("needs the base image swarmstack/base:bookworm (make lab-up makes it)")
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--label",
        f"org.swarmstack.lab=swarmstack-test-{name}",
        "--label",
        "org.swarmstack.lab-config=other",
        "swarmstack/base:bookworm",
        "sleep",
        "300",
    )
    try:
        run = playbook("playbooks/lab.yml", lab(tmp_path, name, "172.30.94.0/24", "172.30.94.11"))
        still_there = docker("ps", "-q", "--filter", f"name=^{name}$").split()
    finally:
        docker("rm", "-f", name)
    assert run.rc != 0
    assert (
        f"A container named {name} already exists from the lab swarmstack-test-{name}" in run.flat
    )
    assert "Run `make lab-down` (or remove that container) first; nothing was changed." in run.flat
    assert still_there, "the refused run must leave the existing container alone"
