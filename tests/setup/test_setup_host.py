"""`make setup` and `make venv` on a fresh systemd Debian host, as a user runs them.

The host is a container of the lab's plain node image (swarmstack/lab-node:latest:
Debian bookworm, systemd as PID 1, sshd, sudo, python3, the user `ops`, no
Docker), run with the flags that let systemd and dockerd work inside. The
checkout's working tree (tracked and untracked files, not ignored ones) is
copied into it twice: for root and for `ops`. Only git and make are installed
first, the prerequisites the README names; pip reaches PyPI through the host's
CA bundle, mounted read-only (../shared/LAB.md).

A missing prerequisite (Docker engine, node image, CA bundle, git checkout)
skips the tests naming it, and under CI=true tests/conftest.py turns that
skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
IMAGE = "swarmstack/lab-node:latest"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
NODE_CA = "/opt/swarmstack-setuptest/ca-certificates.crt"
ROOT_COPY = "/root/swarmstack"
OPS_COPY = "/home/ops/swarmstack"
# The flags that let systemd and dockerd run in a container here (roles/lab,
# ../shared/LAB.md); /var/lib/docker gets a volume of its own.
NODE_FLAGS = [
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/tmp",
]  # fmt: skip
# The two copies live on tmpfs: removing the node then takes no time (its
# layer's 100,000 files of two venvs took 35 s to delete), and nothing in
# the set-up depends on the file system it runs from.
COPIES_FLAGS = [
    "--tmpfs", f"{ROOT_COPY}:rw,exec,mode=0700,size=4g",
    "--tmpfs", f"{OPS_COPY}:rw,exec,mode=0755,uid=1000,gid=1000,size=4g",
]  # fmt: skip
PIP_ENV = {"PIP_CERT": NODE_CA, "REQUESTS_CA_BUNDLE": NODE_CA}


def docker(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


@dataclass
class Node:
    """A running container of the lab's node image."""

    name: str

    def run(
        self, script: str, *, user: str = "root", cwd: str = "/", timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """Run a bash script in the node as `user`, with the host's CA bundle for pip."""
        env = [f"--env={key}={value}" for key, value in PIP_ENV.items()]
        return docker(
            "exec", *env, f"--user={user}", f"--workdir={cwd}", self.name,
            "bash", "-eo", "pipefail", "-c", script,
            timeout=timeout,
        )  # fmt: skip

    def make(
        self, target: str, *, user: str = "root", cwd: str = ROOT_COPY
    ) -> subprocess.CompletedProcess[str]:
        """Run `make TARGET` in a copy and print what it said (pytest -rP shows it)."""
        started = time.monotonic()
        proc = self.run(f"make {target}", user=user, cwd=cwd)
        took = time.monotonic() - started
        print(f"--- make {target} as {user} in {cwd}: exit {proc.returncode}, {took:.0f} s")
        print(tail(proc))
        return proc

    def check(self, script: str, **kwargs) -> str:
        """Run a script that must succeed; its standard output."""
        proc = self.run(script, **kwargs)
        assert proc.returncode == 0, f"{script!r} failed ({proc.returncode}):\n{tail(proc)}"
        return proc.stdout

    def engine_state(self) -> dict[str, str]:
        """dockerd's PID and docker.service's start time, enabled and active states."""
        props = "MainPID,ActiveEnterTimestamp,ActiveState,UnitFileState"
        out = self.check(f"systemctl show --property={props} docker.service; pgrep -x dockerd")
        lines = out.splitlines()
        state = dict(line.split("=", 1) for line in lines if "=" in line)
        state["dockerd"] = " ".join(line for line in lines if "=" not in line)
        return state

    def packages(self, copy: str) -> str:
        """The Debian packages installed and the Python packages in the copy's .venv."""
        return self.check(f"dpkg-query -W; {copy}/.venv/bin/pip freeze --all")


def installed(package: str) -> str:
    """A script that succeeds when the Debian package is installed (known is not enough)."""
    return f"dpkg-query -W -f='${{Status}}' {package} 2>/dev/null | grep -q 'install ok installed'"


def tail(proc: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    # Not pip's notes about the package locations of this machine's pip.conf.
    kept = [line for line in (proc.stdout + proc.stderr).splitlines() if "' is ignored" not in line]
    return "\n".join(kept[-lines:])


def working_tree() -> list[str]:
    """The checkout's files as a commit would see them now: tracked and untracked, not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout  # fmt: skip
    paths = sorted({path for path in out.decode().split("\0") if path})
    return [path for path in paths if os.path.lexists(REPO / path)]


def copy_checkout(node: Node, dest: str, user: str) -> None:
    """Copy the working tree into the node, owned by `user`."""
    node.check(f"install -d -o {user} -g {user} {dest}")
    tar = subprocess.Popen(
        ["tar", "-C", str(REPO), "--null", "--no-recursion", "-T", "-", "-c"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    extract = subprocess.Popen(
        ["docker", "exec", "-i", f"--user={user}", node.name, "tar", "-C", dest, "-x"],
        stdin=tar.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert tar.stdin is not None and tar.stdout is not None
    tar.stdout.close()
    tar.stdin.write("\0".join(working_tree()).encode())
    tar.stdin.close()
    _, err = extract.communicate(timeout=120)
    assert tar.wait(timeout=10) == 0 and extract.returncode == 0, f"copy to {dest}: {err.decode()}"


def wait_for_systemd(node: Node, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        # Until systemd has made its bus, systemctl fails to connect.
        proc = node.run("systemctl is-system-running --wait", timeout=timeout)
        if proc.stdout.strip() in ("running", "degraded"):
            return
        assert time.monotonic() < deadline, f"systemd did not finish booting: {tail(proc)}"
        time.sleep(1)


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A fresh plain Debian host with the checkout in /root and /home/ops, git and make."""
    if shutil.which("docker") is None or docker("info", timeout=30).returncode != 0:
        pytest.skip("no Docker engine answers on this machine (make setup starts one)")
    if docker("image", "inspect", IMAGE).returncode != 0:
        pytest.skip(f"the lab's node image {IMAGE} is absent (make base-image builds it)")
    if not HOST_CA.is_file():
        pytest.skip(f"the host's CA bundle {HOST_CA}, which pip inside the node needs, is absent")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip(
            f"{REPO} is not a git checkout, or git is absent: the test copies its working tree"
        )

    name = f"swarmstack-setuptest-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-docker"
    try:
        started = docker(
            "run", "--detach", f"--name={name}", "--hostname=plainhost",
            "--label=org.swarmstack.setuptest=1", *NODE_FLAGS, *COPIES_FLAGS,
            "--mount", f"type=volume,source={volume},target=/var/lib/docker",
            "--mount", f"type=bind,source={HOST_CA},target={NODE_CA},readonly",
            IMAGE,
        )  # fmt: skip
        assert started.returncode == 0, f"could not start {name}: {started.stderr}"
        node = Node(name)
        wait_for_systemd(node)
        copy_checkout(node, ROOT_COPY, "root")
        copy_checkout(node, OPS_COPY, "ops")
        node.check(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
            " apt-get install -y -qq --no-install-recommends git make >/dev/null",
            timeout=300,
        )
        yield node
    finally:
        docker("rm", "--force", "--volumes", name)
        docker("volume", "rm", "--force", volume)


def test_make_venv_names_python3_venv_when_venv_support_is_missing(node: Node) -> None:
    # A plain Debian host has python3 without venv support (a Debian cloud
    # image too); make sure of it whatever the node image holds.
    node.check(
        f"! {installed('python3-venv')} || DEBIAN_FRONTEND=noninteractive"
        " apt-get remove -y -qq python3-venv python3.11-venv >/dev/null"
    )
    proc = node.make("venv", user="ops", cwd=OPS_COPY)
    assert proc.returncode != 0
    assert "install python3-venv" in proc.stderr, tail(proc)
    assert node.run(f"test -e {OPS_COPY}/.venv").returncode != 0, "a broken .venv was left behind"


def test_make_setup_passes_first_time_and_changes_nothing_the_second(node: Node) -> None:
    first = node.make("setup")
    assert first.returncode == 0, f"the first make setup failed:\n{tail(first)}"
    assert "Installing the pinned Python requirements" in first.stdout, first.stdout
    assert "Docker engine up (docker.service)" in first.stdout, first.stdout
    engine = node.engine_state()
    assert engine["ActiveState"] == "active", engine
    assert engine["UnitFileState"] == "enabled", engine
    assert engine["dockerd"] == engine["MainPID"], engine
    packages = node.packages(ROOT_COPY)

    second = node.make("setup")
    assert second.returncode == 0, f"the second make setup failed:\n{tail(second)}"
    assert "Installing" not in second.stdout + second.stderr, tail(second)
    assert "left as it is" in second.stdout, second.stdout
    assert node.engine_state() == engine, "the second make setup restarted the engine"
    assert node.packages(ROOT_COPY) == packages, "the second make setup changed packages"

    # make venv after make setup: nothing to do, and the tests' packages stay.
    venv = node.make("venv")
    assert venv.returncode == 0, tail(venv)
    assert "Installing" not in venv.stdout + venv.stderr, tail(venv)
    assert node.packages(ROOT_COPY) == packages, "make venv after make setup changed packages"


def test_make_venv_as_an_ordinary_account(node: Node) -> None:
    # Python's venv support is make venv's one prerequisite (make setup installs
    # it). Then ops loses its sudo rights: make venv must not need root.
    node.check(
        f"{installed('python3-venv')} || {{ apt-get update -qq &&"
        " DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }",
        timeout=300,
    )
    node.check("rm -f /etc/sudoers.d/90-ops")
    assert node.run("sudo -n true", user="ops").returncode != 0, "ops still has sudo"
    first = node.make("venv", user="ops", cwd=OPS_COPY)
    assert first.returncode == 0, f"make venv as ops failed:\n{tail(first)}"
    assert "Installing the pinned Python requirements" in first.stdout, first.stdout
    version = node.check(".venv/bin/ansible-playbook --version", user="ops", cwd=OPS_COPY)
    assert version.startswith("ansible-playbook [core 2.19."), version
    # Only the controller's lock: the same pins, nothing of the tests'.
    frozen = node.check(".venv/bin/pip freeze", user="ops", cwd=OPS_COPY).split()
    controller = node.check("grep -v '^#' requirements/controller.txt", cwd=OPS_COPY).split()
    assert sorted(frozen, key=str.lower) == sorted(controller, key=str.lower)
    owners = node.check(f"find {OPS_COPY} ! -user ops | head -5")
    assert owners == "", f"files in the ops copy not owned by ops: {owners}"

    second = node.make("venv", user="ops", cwd=OPS_COPY)
    assert second.returncode == 0, tail(second)
    assert "Installing" not in second.stdout + second.stderr, tail(second)
