"""This machine's Docker engine, through the docker CLI, and the lab's base image."""

from __future__ import annotations

import os
import shutil
import subprocess

DEFAULT_BASE_IMAGE = "swarmstack/base:bookworm"
"""The debootstrap image the lab's images start from (`make base-image`)."""


def base_image_name() -> str:
    """The base image: SWARMSTACK_BASE_IMAGE, else swarmstack/base:bookworm."""
    return os.environ.get("SWARMSTACK_BASE_IMAGE") or DEFAULT_BASE_IMAGE


def engine_answers() -> bool:
    """Whether a Docker engine answers on this machine."""
    return bool(shutil.which("docker")) and (
        subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    )


def docker(*args: str, input_data: bytes | None = None, timeout: float = 600) -> str:
    """Run the docker CLI; its output. A failure raises CalledProcessError, with stderr."""
    return subprocess.run(
        ["docker", *args],
        input=input_data,
        capture_output=True,
        timeout=timeout,
        check=True,
    ).stdout.decode(errors="replace")
