"""What a user checks by hand on each node once site.yml has run."""

from __future__ import annotations

import json
import shlex
import socket

import pytest

STACK = "swarmstack"


def docker(host, *args: str) -> str:
    with host.sudo():
        return host.check_output("docker " + " ".join(args))


def is_manager(host) -> bool:
    return "managers" in host.ansible.get_variables().get("group_names", [])


def test_docker_engine_runs_and_is_enabled(host) -> None:
    docker_service = host.service("docker")
    assert docker_service.is_running
    assert docker_service.is_enabled


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


def test_data_dir_belongs_to_redis_and_holds_append_only_files(host) -> None:
    if not is_manager(host):
        pytest.skip("~/data lives on the manager that runs Redis")
    home = host.user().home
    data = host.file(f"{home}/data")
    assert data.is_directory
    assert data.uid == 1000
    assert data.mode == 0o700
    with host.sudo():
        listing = host.check_output(f"find {home}/data -name '*.aof' -o -name '*.manifest'")
    assert "appendonly" in listing


def test_web_replicas_spread_over_the_nodes(host) -> None:
    if not is_manager(host):
        pytest.skip("the task list is read on a manager")
    rows = docker(
        host,
        "service",
        "ps",
        f"{STACK}_web",
        "--filter",
        "desired-state=running",
        "--format",
        "'{{.Node}} {{.CurrentState}}'",
    ).splitlines()
    assert len(rows) == 5
    assert all(" Running " in f" {row} " for row in rows)
    nodes = {row.split()[0] for row in rows}
    swarm = docker(host, "node", "ls", "--format", "'{{.Hostname}}'").split()
    assert nodes == set(swarm)


def test_no_service_publishes_redis_port(host) -> None:
    if not is_manager(host):
        pytest.skip("services are read on a manager")
    ports = docker(host, "service", "ls", "--format", "'{{.Name}} {{.Ports}}'")
    assert "6379" not in ports
    assert not host.socket("tcp://0.0.0.0:6379").is_listening


def test_no_container_runs_as_root(host) -> None:
    ids = docker(host, "ps", "-q", "--filter", f"label=com.docker.stack.namespace={STACK}").split()
    assert ids, "no stack container runs on this node"
    for cid in ids:
        user = docker(host, "inspect", "--format", "'{{.Config.User}}'", cid).strip()
        assert user not in ("", "0", "root") and not user.startswith(("0:", "root:")), cid


def test_redis_port_refuses_the_machine_running_the_lab(host) -> None:
    address = host.ansible.get_variables()["ansible_host"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, 6379), timeout=5).close()


def test_redis_answers_noauth_without_the_password(host) -> None:
    if not is_manager(host):
        pytest.skip("asked once, from a web container on the manager")
    service = f"label=com.docker.swarm.service.name={STACK}_web"
    web = docker(host, "ps", "-q", "--filter", service).split()
    assert web, "no web container runs on this node"
    probe = (
        "import socket; s = socket.create_connection(('redis', 6379), timeout=5); "
        "s.sendall(b'GET counter\\r\\n'); print(s.recv(200).decode())"
    )
    answer = docker(host, "exec", web[0], "python3", "-c", shlex.quote(probe))
    assert answer.startswith("-NOAUTH"), answer
