"""Settings of the visualizer, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    """Everything the visualizer can be told; the defaults suit the stack."""

    host: str = "0.0.0.0"
    port: int = 8080
    docker_socket: str = "/var/run/docker.sock"
    refresh_seconds: float = 2.0
    engine_timeout: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Build a Config from HOST, PORT, DOCKER_SOCKET, REFRESH_SECONDS, ENGINE_TIMEOUT."""
        env = os.environ if env is None else env
        return cls(
            host=env.get("HOST", cls.host),
            port=_number(env, "PORT", cls.port, int),
            docker_socket=env.get("DOCKER_SOCKET", cls.docker_socket),
            refresh_seconds=_number(env, "REFRESH_SECONDS", cls.refresh_seconds, float),
            engine_timeout=_number(env, "ENGINE_TIMEOUT", cls.engine_timeout, float),
        )


def _number(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    """Read a positive number from env, or stop with a message that names the variable."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SystemExit(
            f"{name}={raw!r} is not a {kind.__name__}: set it to a positive number"
        ) from None
    if value <= 0:
        raise SystemExit(f"{name}={raw!r} must be greater than 0")
    return value
