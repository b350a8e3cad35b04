"""A throwaway Docker Swarm of docker-in-docker nodes, made with the Docker SDK.

Each node is a container of a node image running dockerd (with debug logs, its
socket also in a host folder, so a test can talk to each engine and read what
it was asked). Everything made carries the given labels and a name with a
random suffix, and SwarmLab.close() removes it.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import ServiceMode

from swarmstack_harness.engine import base_image_name
from swarmstack_harness.wait import wait_for

__all__ = ["Container", "ServiceMode"]

# What LAB.md measured to let dockerd run inside a container on this machine.
# (systempaths=unconfined is set as empty MaskedPaths/ReadonlyPaths where the container is made.)
DIND_HOST_CONFIG: dict[str, Any] = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "tmpfs": {"/run": "", "/tmp": ""},
}


class LabUnavailable(Exception):
    """The lab cannot be built here; the message says what is missing."""


def host_client() -> docker.DockerClient:
    """The host's engine, or LabUnavailable."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise LabUnavailable(
            f"no Docker engine (DOCKER_HOST or /var/run/docker.sock): {exc}"
        ) from exc
    return client


def image_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except ImageNotFound:
        return False
    return True


def base_image(client: docker.DockerClient) -> str:
    """The Debian base image (SWARMSTACK_BASE_IMAGE, default swarmstack/base:bookworm)."""
    name = base_image_name()
    if not image_exists(client, name):
        raise LabUnavailable(
            f"base image {name} not found: build it (debootstrap --variant=minbase bookworm DIR && "
            f"tar -C DIR -c . | docker import - {name}) or set SWARMSTACK_BASE_IMAGE"
        )
    return name


def build_image(
    client: docker.DockerClient,
    context: Path,
    dockerfile: str,
    tag: str,
    base: str,
    labels: dict[str, str],
) -> str:
    """Build context/dockerfile with BASE_IMAGE=base as tag."""
    client.images.build(
        path=str(context),
        dockerfile=dockerfile,
        tag=tag,
        buildargs={"BASE_IMAGE": base},
        labels=labels,
        rm=True,
        forcerm=True,
    )
    return tag


def remove_image(client: docker.DockerClient, tag: str) -> None:
    quietly(lambda: client.images.remove(tag, force=True))


def wait_healthy(container: Container, timeout: float = 30) -> None:
    """Wait until the container's health check passes; fail at once if it exits."""

    def healthy() -> bool:
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"{container.name} exited: {container.logs().decode()}")
        return container.attrs["State"].get("Health", {}).get("Status") == "healthy"

    wait_for(f"{container.name} to be healthy", healthy, timeout=timeout)


@dataclass
class Node:
    """One docker-in-docker node: its container, its engine's socket on the host, a client."""

    hostname: str
    container: Container
    sock_dir: Path

    @property
    def socket(self) -> str:
        return str(self.sock_dir / "docker.sock")

    @cached_property
    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=f"unix://{self.socket}", timeout=120)

    def ip(self, network: str) -> str:
        self.container.reload()
        return self.container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]

    def api_calls_since(self, marker: str) -> list[tuple[str, str]]:
        """(method, path) of every API call the engine logged after the GET that carried marker."""
        calls = re.findall(
            r'msg="Calling (\S+) (\S+)"', self.container.logs().decode("utf-8", "replace")
        )
        ends_with_marker = [i for i, (_, path) in enumerate(calls) if marker in path]
        if not ends_with_marker:
            raise AssertionError(f"marker {marker} not in the engine's debug log")
        return calls[ends_with_marker[-1] + 1 :]

    def mark_log(self) -> str:
        """Send a GET with a unique query string, to find this moment in the engine's log."""
        marker = f"swarmviz-marker-{uuid.uuid4().hex}"
        api = self.client.api
        api.get(f"{api.base_url}/_ping", params={marker: "1"}).raise_for_status()
        return marker


@dataclass
class SwarmLab:
    """A swarm of docker-in-docker nodes on the host engine: the first is the manager.

    Names start with ``prefix`` and end with a random suffix; everything made
    carries ``labels``.
    """

    host: docker.DockerClient
    image: str
    prefix: str
    labels: dict[str, str]
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    nodes: list[Node] = field(default_factory=list)
    network: str = ""
    service_image: str = ""
    _undo: list[Callable[[], object]] = field(default_factory=list)

    def start(self, hostnames: list[str]) -> None:
        """Start one node per hostname, wait for their engines, form the swarm."""
        self.network = f"{self.prefix}-{self.suffix}"
        network = self.host.networks.create(self.network, driver="bridge", labels=self.labels)
        self._undo.append(network.remove)
        self.nodes = [self._run_node(name) for name in hostnames]
        for node in self.nodes:
            wait_for(
                f"the engine in {node.container.name}", lambda n=node: n.client.ping(), timeout=60
            )
        self._form_swarm()

    def _run_node(self, hostname: str) -> Node:
        name = f"{self.prefix}-{hostname}-{self.suffix}"
        volume = self.host.volumes.create(f"{name}-docker", labels=self.labels)
        self._undo.append(lambda: volume.remove(force=True))
        sock_dir = Path(tempfile.mkdtemp(prefix="viz-sock-"))
        self._undo.append(lambda: shutil.rmtree(sock_dir, ignore_errors=True))
        # Our own config file: the engine listens in a host folder too, and logs every call.
        config = {
            "hosts": ["unix:///var/run/docker.sock", "unix:///hostsock/docker.sock"],
            "debug": True,
        }
        (sock_dir / "daemon.json").write_text(json.dumps(config), encoding="utf-8")
        api = self.host.api
        host_config = api.create_host_config(
            binds={
                "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                volume.name: {"bind": "/var/lib/docker", "mode": "rw"},
                str(sock_dir): {"bind": "/hostsock", "mode": "rw"},
            },
            network_mode=self.network,
            **DIND_HOST_CONFIG,
        )
        # docker run --security-opt systempaths=unconfined: the API spells it as empty path lists.
        host_config |= {"MaskedPaths": [], "ReadonlyPaths": []}
        created = api.create_container(
            self.image,
            entrypoint=["dockerd"],
            command=["--config-file", "/hostsock/daemon.json"],
            name=name,
            hostname=hostname,
            labels=self.labels,
            environment={"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"},
            host_config=host_config,
        )
        container = self.host.containers.get(created["Id"])
        self._undo.append(lambda: container.remove(force=True, v=True))
        container.start()
        return Node(hostname, container, sock_dir)

    def _form_swarm(self) -> None:
        manager, workers = self.nodes[0], self.nodes[1:]
        manager_ip = manager.ip(self.network)
        manager.client.swarm.init(advertise_addr=manager_ip, listen_addr="0.0.0.0:2377")
        token = manager.client.swarm.attrs["JoinTokens"]["Worker"]
        for worker in workers:
            worker.client.swarm.join(
                remote_addrs=[f"{manager_ip}:2377"],
                join_token=token,
                advertise_addr=worker.ip(self.network),
                listen_addr="0.0.0.0:2377",
            )
        wait_for("every node ready", lambda: self._all_ready(len(self.nodes)), timeout=60)

    def _all_ready(self, count: int) -> bool:
        nodes = self.manager.client.nodes.list()
        return len(nodes) == count and all(
            node.attrs["Status"]["State"] == "ready" for node in nodes
        )

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    def load_image(self, image: str) -> None:
        """Copy an image from the host into every node (nothing can be pulled here)."""
        self.service_image = image

        def load(node: Node) -> None:
            node.client.images.load(self.host.images.get(image).save(named=True))

        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(load, self.nodes))

    def create_service(self, name: str, image: str, command: list[str], mode: ServiceMode) -> None:
        """Create a service on the manager and wait until all its tasks run."""
        service = self.manager.client.services.create(image, command=command, name=name, mode=mode)

        def all_running() -> bool:
            tasks = service.tasks(filters={"desired-state": "running"})
            wanted = mode.replicas if mode.mode == "replicated" else len(self.nodes)
            return len(tasks) == wanted and all(
                task["Status"]["State"] == "running" for task in tasks
            )

        wait_for(f"the tasks of service {name} to run", all_running, timeout=90)

    def close(self) -> None:
        """Remove all that start() made, newest first: nodes, volumes, socket folders, network."""
        for node in self.nodes:
            if "client" in vars(node):
                node.client.close()
        while self._undo:
            quietly(self._undo.pop())


def quietly(action: Callable[[], object]) -> None:
    """Run a clean-up step; a thing already gone is fine, other failures are warned about."""
    try:
        action()
    except NotFound:
        pass
    except DockerException as exc:
        warnings.warn(f"clean-up step failed, remove it by hand: {exc}", stacklevel=2)
