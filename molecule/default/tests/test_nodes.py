"""What a user checks by hand on each node once site.yml has run."""

from __future__ import annotations

import json
import socket

import pytest
from swarm import STACK, docker


def is_manager(host) -> bool:
    return "managers" in host.ansible.get_variables().get("group_names", [])


def test_docker_engine_runs_and_is_enabled(host) -> None:
    docker_service = host.service("docker")
    assert docker_service.is_running
    assert docker_service.is_enabled


def test_vxlan_sweeper_runs_and_is_enabled(host) -> None:
    """The service that deletes VXLAN interfaces dockerd left behind (the drills see it work)."""
    sweeper = host.service("swarmstack-vxlan-sweep")
    assert sweeper.is_running
    assert sweeper.is_enabled
    assert host.file("/usr/local/sbin/swarmstack-vxlan-sweep").mode == 0o755


def test_engine_rotates_the_containers_json_logs(host) -> None:
    """site.yml installed the engine with daemon.json's log rotation; every task has it."""
    assert docker(host, "info", "--format", "'{{.LoggingDriver}}'").strip() == "json-file"
    ids = docker(host, "ps", "-q", "--filter", f"label=com.docker.stack.namespace={STACK}").split()
    assert ids, "no stack container runs on this node"
    for cid in ids:
        config = json.loads(
            docker(host, "inspect", "--format", "'{{json .HostConfig.LogConfig}}'", cid)
        )
        assert config == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}}, cid


def test_login_user_is_not_root_and_in_docker_group(host) -> None:
    user = host.user()
    assert user.uid != 0
    assert "docker" in user.groups


def test_node_has_its_swarm_role(host) -> None:
    info = json.loads(docker(host, "info", "--format", "'{{json .Swarm}}'"))
    assert info["LocalNodeState"] == "active"
    assert info["ControlAvailable"] is is_manager(host)


def test_no_container_runs_as_root(host) -> None:
    ids = docker(host, "ps", "-q", "--filter", f"label=com.docker.stack.namespace={STACK}").split()
    assert ids, "no stack container runs on this node"
    for cid in ids:
        user = docker(host, "inspect", "--format", "'{{.Config.User}}'", cid).strip()
        assert user not in ("", "0", "root") and not user.startswith(("0:", "root:")), cid


@pytest.mark.parametrize("port", [6379, 26379], ids=["redis", "sentinel"])
def test_redis_port_refuses_the_machine_running_the_lab(host, port: int) -> None:
    address = host.ansible.get_variables()["ansible_host"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, port), timeout=5).close()
