"""What a user reads on each manager once site.yml has run: the swarm's
services and tasks, which only a manager knows."""

from __future__ import annotations

from swarm import STACK, docker

testinfra_hosts = ["ansible://managers"]


def test_web_replicas_spread_over_the_nodes(host) -> None:
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


def test_no_service_publishes_redis_or_sentinel_port(host) -> None:
    ports = docker(host, "service", "ls", "--format", "'{{.Name}} {{.Ports}}'")
    assert "6379" not in ports  # also catches 26379, Sentinel's
    assert not host.socket("tcp://0.0.0.0:6379").is_listening
    assert not host.socket("tcp://0.0.0.0:26379").is_listening
