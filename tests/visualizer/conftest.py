"""Fixtures of the visualizer's tests: recorded answers, an in-process server, a real swarm."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import vizlab
from swarmstack_harness.dind import (
    Container,
    LabUnavailable,
    ServiceMode,
    SwarmLab,
    base_image,
    host_client,
    remove_image,
    wait_healthy,
)
from swarmviz.config import Config
from swarmviz.server import create_app

HERE = Path(__file__).resolve().parent

FIXTURES = HERE / "fixtures"
SERVICE = "web"
REPLICAS = 2
HOSTNAMES = ["vizlab01", "vizlab02"]


@pytest.fixture
def answers() -> Callable[[str], Any]:
    """Load an engine answer recorded by record_engine_answers.py: answers("manager-tasks")."""

    def load(name: str) -> Any:
        return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))

    return load


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start the visualizer in this process on a free loopback port; returns its base URL."""
    servers = []

    def start(**settings: Any) -> str:
        server = create_app(Config(host="127.0.0.1", port=0, **settings))
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def host_docker() -> Any:
    """The host's Docker engine (never put into swarm mode)."""
    try:
        return host_client()
    except LabUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def swarm(host_docker: Any) -> Iterator[SwarmLab]:
    """Two docker-in-docker nodes in a swarm, running web (2 replicas) and agent (global)."""
    try:
        image = vizlab.node_image(host_docker)
        service_image = base_image(host_docker)
    except LabUnavailable as exc:
        pytest.skip(str(exc))
    lab = vizlab.swarm_lab(host_docker, image)
    try:
        lab.start(HOSTNAMES)
        lab.load_image(service_image)
        sleep = ["sleep", "infinity"]
        lab.create_service(
            SERVICE, service_image, sleep, ServiceMode("replicated", replicas=REPLICAS)
        )
        lab.create_service("agent", service_image, sleep, ServiceMode("global"))
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="session")
def visualizer_image(host_docker: Any) -> Iterator[str]:
    """The image built from files/visualizer on the base image; removed after the session."""
    try:
        tag = vizlab.build_visualizer(host_docker)
    except LabUnavailable as exc:
        pytest.skip(str(exc))
    yield tag
    remove_image(host_docker, tag)


@pytest.fixture(scope="session")
def visualizer(host_docker: Any, swarm: SwarmLab, visualizer_image: str) -> Iterator[Container]:
    """The visualizer image run as the stack runs it, reading the swarm manager's socket."""
    socket_gid = Path(swarm.manager.socket).stat().st_gid
    container = vizlab.run_visualizer(
        host_docker, visualizer_image, swarm.manager.socket, f"10001:{socket_gid}"
    )
    try:
        wait_healthy(container)
        yield container
    finally:
        container.remove(force=True, v=True)


@pytest.fixture(scope="session")
def visualizer_url(visualizer: Container) -> str:
    return vizlab.published_url(visualizer)
