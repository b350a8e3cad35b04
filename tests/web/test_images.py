"""The web and redis images, built from the debootstrap base image and run together.

Needs a docker engine and the base image (SWARMSTACK_BASE_IMAGE, default
swarmstack/base:bookworm); skipped otherwise. The built images are kept, tagged
swarmstack-webtest/*, so that the next run is cached; containers and the network go.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import REPO, make_records, wait_for

pytestmark = pytest.mark.docker
BASE_IMAGE = os.environ.get("SWARMSTACK_BASE_IMAGE", "swarmstack/base:bookworm")
WEB_IMAGE = "swarmstack-webtest/web:latest"
REDIS_IMAGE = "swarmstack-webtest/redis:latest"


def docker(*args: str, check: bool = True, timeout: float = 600) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def engine_and_base_image() -> str | None:
    """Why the image tests cannot run here, or None when they can."""
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode:
            return "no docker engine answers"
    except (OSError, subprocess.TimeoutExpired):
        return "no docker client or engine"
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode:
        return f"base image {BASE_IMAGE} is absent (set SWARMSTACK_BASE_IMAGE)"
    return None


class Stack:
    """redis + web containers on a throwaway user-defined network."""

    def __init__(self, data_dir: Path) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.network = f"swarmstack-webtest-{suffix}"
        self.redis = f"swarmstack-webtest-redis-{suffix}"
        self.web = f"swarmstack-webtest-web-{suffix}"
        self.data_dir = data_dir

    def start(self) -> None:
        docker("network", "create", self.network)
        docker(
            "run", "-d", "--name", self.redis, "--network", self.network,
            "--network-alias", "redis", "-v", f"{self.data_dir}:/data",
            "--health-interval", "1s", REDIS_IMAGE,
            "redis-server", "--appendonly", "yes", "--save", "1", "1",
        )  # fmt: skip
        docker(
            "run", "-d", "--name", self.web, "--network", self.network,
            "--cpus", "0.1", "--memory", "50m", "--health-interval", "1s",
            "-e", "NAME=Image Test", WEB_IMAGE,
        )  # fmt: skip
        for name in (self.redis, self.web):
            wait_for(lambda name=name: health(name) == "healthy", 60, f"{name} healthy")

    def url(self, name: str | None = None) -> str:
        networks = json.loads(
            docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", name or self.web)
        )
        return f"http://{networks[self.network]['IPAddress']}:8000"

    def remove(self) -> None:
        for name in (self.web, self.redis):
            docker("rm", "-f", "-v", name, check=False)
        docker("network", "rm", self.network, check=False)


def health(name: str) -> str:
    return docker("inspect", "-f", "{{.State.Health.Status}}", name)


@pytest.fixture(scope="module")
def images() -> None:
    reason = engine_and_base_image()
    if reason:
        pytest.skip(reason)
    for image, context in ((WEB_IMAGE, "web"), (REDIS_IMAGE, "redis")):
        docker(
            "build",
            "-q",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            image,
            str(REPO / "files" / context),
        )


@pytest.fixture(scope="module")
def stack(images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("redis-data")
    data_dir.chmod(0o777)  # the container's uid 1000 writes here
    running = Stack(data_dir)
    try:
        running.start()
        yield running
    finally:
        running.remove()


def test_counter_page_through_the_container(stack: Stack) -> None:
    first = requests.get(f"{stack.url()}/", timeout=10)
    assert first.status_code == 200
    container_id = docker("inspect", "-f", "{{.Config.Hostname}}", stack.web)
    assert first.text == (
        f"<h3>Hello Image Test!</h3><b>Hostname:</b> {container_id}<br/><b>Visits:</b> 1"
    )
    assert requests.get(f"{stack.url()}/readyz", timeout=10).status_code == 200


def test_data_api_through_the_container(stack: Stack) -> None:
    records = make_records(2000)
    stored = requests.post(f"{stack.url()}/data", json=records, timeout=60)
    assert (stored.status_code, stored.json()) == (201, {"stored": 2000})
    assert requests.get(f"{stack.url()}/data", timeout=60).json() == records


def test_both_run_as_non_root(stack: Stack) -> None:
    assert docker("inspect", "-f", "{{.Config.User}}", stack.web) == "web"
    assert docker("exec", stack.web, "id", "-u") == "1000"
    assert docker("exec", stack.redis, "id", "-u") == "1000"
    assert docker("exec", stack.redis, "id", "-g") == "1000"


def test_redis_keeps_appendonly_data_in_the_bind_mount(stack: Stack) -> None:
    assert docker("exec", stack.redis, "redis-cli", "config", "get", "save").endswith("1 1")
    docker("exec", stack.redis, "redis-cli", "set", "image-test", "kept")
    aof_dir = stack.data_dir / "appendonlydir"
    wait_for(lambda: any(aof_dir.glob("*.incr.aof")), 10, "the append-only file")
    assert {path.stat().st_uid for path in aof_dir.iterdir()} == {1000}
    wait_for(lambda: (stack.data_dir / "dump.rdb").exists(), 10, "the RDB snapshot (save 1 1)")


def test_redis_with_a_password_file(images: None, tmp_path: Path) -> None:
    secret = tmp_path / "redis_password"
    secret.write_text("image s3cret\n", encoding="utf-8")
    secret.chmod(0o644)
    name = f"swarmstack-webtest-redis-auth-{uuid.uuid4().hex[:8]}"
    try:
        docker(
            "run", "-d", "--name", name, "--health-interval", "1s",
            "-v", f"{secret}:/run/secrets/redis_password:ro", REDIS_IMAGE,
        )  # fmt: skip
        wait_for(lambda: health(name) == "healthy", 30, "password-protected redis healthy")
        assert "NOAUTH" in docker("exec", "-e", "REDISCLI_AUTH=", name, "redis-cli", "ping")
        args = ["exec", "-e", "REDISCLI_AUTH=image s3cret", name, "redis-cli"]
        assert docker(*args, "ping") == "PONG"
        assert "image s3cret" not in docker("exec", name, "cat", "/proc/1/cmdline")
    finally:
        docker("rm", "-f", "-v", name, check=False)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        # Something else on gunicorn's port: it answers, but not 200.
        (["python3", "-m", "http.server", "8000"], "answered 404, not 200"),
        # Nothing on the port at all.
        (["sleep", "120"], "Connection refused"),
    ],
    ids=["not-200", "nothing-listens"],
)
def test_the_web_health_check_fails_without_a_healthz_200(
    images: None, command: list[str], says: str
) -> None:
    name = f"swarmstack-webtest-web-sick-{uuid.uuid4().hex[:8]}"
    try:
        docker(
            "run", "-d", "--name", name, "--health-interval", "1s",
            "--health-start-period", "1ms", "--health-retries", "1", WEB_IMAGE, *command,
        )  # fmt: skip
        wait_for(lambda: health(name) == "unhealthy", 30, "the web container unhealthy")
        probes = json.loads(docker("inspect", "-f", "{{json .State.Health.Log}}", name))
        assert probes[-1]["ExitCode"] == 1
        assert says in probes[-1]["Output"]
    finally:
        docker("rm", "-f", name, check=False)


def test_docker_stop_ends_them_cleanly(stack: Stack) -> None:
    # Had SIGTERM been ignored, docker would SIGKILL after the 10 s and the
    # exit code be 137. How fast they stop is measured by bench/app_bench.py,
    # not asserted here.
    for name in (stack.web, stack.redis):
        docker("stop", "--time", "10", name)
        assert docker("inspect", "-f", "{{.State.ExitCode}}", name) == "0"


def test_docker_stop_while_gunicorn_starts_is_clean(images: None) -> None:
    # At 0.1 CPU gunicorn takes seconds to install its signal handlers; tini, PID 1,
    # passes the SIGTERM on and reports the stop as 0 (-e 143), not docker's SIGKILL.
    name = f"swarmstack-webtest-web-early-{uuid.uuid4().hex[:8]}"
    try:
        docker("run", "-d", "--name", name, "--cpus", "0.1", "--memory", "50m", WEB_IMAGE)
        assert docker("exec", name, "cat", "/proc/1/comm") == "tini"
        started = time.monotonic()
        docker("stop", "--time", "10", name)
        assert time.monotonic() - started < 8, "docker stop waited for its SIGKILL"
        assert docker("inspect", "-f", "{{.State.ExitCode}}", name) == "0"
    finally:
        docker("rm", "-f", name, check=False)


# What Debian's -slim images leave out, as find(1) finds it: any output is a
# file that should not be there.
NOT_IN_A_SLIM_IMAGE = (
    "find /var/cache/apt -name '*.bin';"
    " find /var/cache/apt/archives /var/lib/apt/lists -type f -name '*_*';"
    " find /usr/share/doc -type f ! -name copyright;"
    " for d in /usr/share/man /usr/share/info /usr/share/groff;"
    " do [ ! -d $d ] || find $d -type f; done;"
    " find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias"
)


@pytest.mark.parametrize("image", [BASE_IMAGE, WEB_IMAGE, REDIS_IMAGE])
def test_images_keep_no_apt_caches_docs_or_translations(images: None, image: str) -> None:
    # APT's two package caches alone were about 78 MB in each image's own
    # layer, copied to every node; the base image's settings keep them out.
    found = docker(
        "run", "--rm", "--user", "0", "--entrypoint", "/bin/sh", image, "-c", NOT_IN_A_SLIM_IMAGE,
    )  # fmt: skip
    assert found == "", f"{image} holds:\n{found[:2000]}"
