"""The visualizer's part of the lab: its test names and labels, the node image, its image.

The swarm itself is the harness's docker-in-docker swarm (swarmstack_harness.dind).
Everything made here carries the label swarmstack-test=visualizer and a name
with a random suffix, and is removed by SwarmLab.close() / remove_image().
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import docker
from swarmstack_harness.dind import (
    Container,
    LabUnavailable,
    SwarmLab,
    base_image,
    build_image,
    image_exists,
)

HERE = Path(__file__).resolve().parent
VISUALIZER_DIR = HERE.parents[1] / "files" / "visualizer"
LABELS = {"swarmstack-test": "visualizer"}
PREFIX = "swarmstack-test-viz"
TEST_NODE_IMAGE = "swarmstack-test/visualizer-node:bookworm"


def swarm_lab(client: docker.DockerClient, image: str) -> SwarmLab:
    """A docker-in-docker swarm under the visualizer tests' names and labels (not started)."""
    return SwarmLab(client, image, prefix=PREFIX, labels=LABELS)


def node_image(client: docker.DockerClient) -> str:
    """SWARMSTACK_NODE_IMAGE, else our own node image, built from node.Dockerfile if missing."""
    wanted = os.environ.get("SWARMSTACK_NODE_IMAGE")
    if wanted:
        if not image_exists(client, wanted):
            raise LabUnavailable(f"SWARMSTACK_NODE_IMAGE={wanted} does not exist on this engine")
        return wanted
    if not image_exists(client, TEST_NODE_IMAGE):
        build_image(client, HERE, "node.Dockerfile", TEST_NODE_IMAGE, base_image(client), LABELS)
    return TEST_NODE_IMAGE


def build_visualizer(client: docker.DockerClient) -> str:
    """Build files/visualizer as a uniquely named test image."""
    tag = f"swarmstack-test/visualizer:pytest-{uuid.uuid4().hex[:8]}"
    return build_image(client, VISUALIZER_DIR, "Dockerfile", tag, base_image(client), LABELS)


def run_visualizer(
    client: docker.DockerClient, image: str, socket_path: str, user: str
) -> Container:
    """Run the visualizer image as the stack does: read-only, socket mounted read-only, as user."""
    health = client.images.get(image).attrs["Config"]["Healthcheck"]
    return client.containers.run(
        image,
        name=f"{PREFIX}-app-{uuid.uuid4().hex[:8]}",
        detach=True,
        labels=LABELS,
        user=user,
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        volumes={socket_path: {"bind": "/var/run/docker.sock", "mode": "ro"}},
        ports={"8080/tcp": ("127.0.0.1", None)},
        # The image's own check, run every second instead of every 30 s so the test need not wait.
        healthcheck={
            "test": health["Test"],
            "interval": 1_000_000_000,
            "timeout": 5_000_000_000,
            "retries": 3,
        },
    )


def published_url(container: Container) -> str:
    """http://127.0.0.1:<port> where the container's 8080 is published."""
    container.reload()
    return f"http://127.0.0.1:{container.ports['8080/tcp'][0]['HostPort']}"
