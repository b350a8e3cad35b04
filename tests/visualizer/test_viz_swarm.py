"""The visualizer image against a real swarm of docker-in-docker nodes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import vizlab
from conftest import HOSTNAMES, REPLICAS, SERVICE
from swarmstack_harness.dind import Container, SwarmLab, wait_healthy
from swarmstack_harness.wait import wait_for
from swarmviz.state import short_image

pytestmark = pytest.mark.docker


def cards_of(state: dict[str, Any], service: str) -> list[dict[str, Any]]:
    return [task for node in state["nodes"] for task in node["tasks"] if task["service"] == service]


def test_api_state_shows_the_real_swarm(visualizer_url: str, swarm: SwarmLab) -> None:
    response = requests.get(visualizer_url + "/api/state", timeout=10)
    assert response.status_code == 200
    state = response.json()
    assert "error" not in state
    summary = [
        (n["hostname"], n["role"], n["leader"], n["availability"], n["state"])
        for n in state["nodes"]
    ]
    assert summary == [
        (HOSTNAMES[0], "manager", True, "active", "ready"),
        (HOSTNAMES[1], "worker", False, "active", "ready"),
    ]
    web = cards_of(state, SERVICE)
    assert sorted(task["slot"] for task in web) == list(range(1, REPLICAS + 1))
    image = short_image(swarm.service_image)
    assert {(task["state"], task["desired_state"], task["image"]) for task in web} == {
        ("running", "running", image)
    }
    assert [len(cards_of({"nodes": [node]}, "agent")) for node in state["nodes"]] == [1, 1]
    services = {svc["name"]: (svc["replicas"], svc["running"]) for svc in state["services"]}
    assert services == {SERVICE: (REPLICAS, REPLICAS), "agent": (None, len(HOSTNAMES))}


def test_image_runs_read_only_as_the_socket_group_and_is_healthy(
    visualizer: Container,
) -> None:
    visualizer.reload()
    attrs = visualizer.attrs
    assert attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert attrs["Config"]["User"].startswith("10001:")
    assert attrs["State"]["Health"]["Status"] == "healthy"
    image = visualizer.image.attrs["Config"]
    assert image["User"] == "10001:10001"
    assert "8080/tcp" in image["ExposedPorts"]
    assert image["Labels"]["org.opencontainers.image.title"] == "swarmstack visualizer"


def test_writes_are_refused_and_the_engine_sees_only_reads(
    visualizer_url: str, swarm: SwarmLab
) -> None:
    marker = swarm.manager.mark_log()
    for method in ["POST", "PUT", "DELETE", "PATCH"]:
        for path in ["/api/state", "/services/create", "/swarm/leave", "/nodes/x/update"]:
            assert (
                requests.request(method, visualizer_url + path, json={}, timeout=10).status_code
                == 405
            )
    assert requests.get(visualizer_url + "/api/state", timeout=10).status_code == 200

    # The engine's log reaches `docker logs` a moment after the calls: under load,
    # a read right after the answer saw only the first of them (GET /info).
    def all_reads_logged() -> list[tuple[str, str]] | None:
        calls = swarm.manager.api_calls_since(marker)
        endpoints = {path.split("?")[0].rsplit("/", 1)[-1] for _, path in calls}
        return calls if endpoints >= {"info", "nodes", "services", "tasks"} else None

    calls = wait_for("the engine to log the visualizer's reads", all_reads_logged, 15)
    assert {method for method, _ in calls} <= {"GET", "HEAD"}


def test_a_worker_engine_is_explained(serve: Callable[..., str], swarm: SwarmLab) -> None:
    response = requests.get(serve(docker_socket=swarm.nodes[1].socket) + "/api/state", timeout=10)
    assert response.status_code == 503
    assert "is a swarm worker, not a manager" in response.json()["error"]


def test_an_engine_outside_a_swarm_is_explained(
    serve: Callable[..., str], host_docker: Any
) -> None:
    if host_docker.info()["Swarm"]["LocalNodeState"] != "inactive":
        pytest.skip("the host engine is in a swarm")
    state = requests.get(serve() + "/api/state", timeout=10).json()
    assert "is not part of a swarm (swarm state: inactive)" in state["error"]


def test_socket_without_permission_is_explained(
    host_docker: Any, swarm: SwarmLab, visualizer_image: str
) -> None:
    assert Path(swarm.manager.socket).stat().st_mode & 0o007 == 0, (
        "the socket should be closed to others"
    )
    container = vizlab.run_visualizer(
        host_docker, visualizer_image, swarm.manager.socket, "10001:10001"
    )
    try:
        wait_healthy(container)
        response = requests.get(vizlab.published_url(container) + "/api/state", timeout=10)
        assert response.status_code == 503
        assert response.json()["error"].startswith(
            "Permission denied on Docker socket /var/run/docker.sock"
        )
    finally:
        container.remove(force=True)


def test_container_stops_promptly_with_exit_0(
    host_docker: Any, visualizer_image: str, tmp_path: Path
) -> None:
    (tmp_path / "docker.sock").touch()
    container = vizlab.run_visualizer(
        host_docker, visualizer_image, str(tmp_path / "docker.sock"), "10001:10001"
    )
    try:
        wait_healthy(container)
        started = time.monotonic()
        container.stop(timeout=10)
        assert time.monotonic() - started < 5
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0
        assert "Got SIGTERM, stopping" in container.logs().decode()
    finally:
        container.remove(force=True)
