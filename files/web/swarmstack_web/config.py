"""Settings of the web app: environment variables with defaults, overridable by a mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting has a value the app cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment.

    Each field is read from the environment variable of the same name in upper case.
    """

    redis_host: str = "redis"
    redis_port: int = 6379
    redis_db: int = 0
    redis_password_file: str = ""
    redis_socket_timeout: float = 2.0
    redis_connect_timeout: float = 2.0
    redis_bulk_timeout: float = 60.0
    # With Redis Sentinel: "host:port" of the Sentinels, comma-separated (a name that
    # resolves to several addresses counts once and is tried address by address), and
    # the name they monitor the primary under. Empty: Redis at redis_host:redis_port.
    redis_sentinels: str = ""
    redis_master_name: str = "swarmstack"
    # Replicas that must hold a write (Redis WAIT) before it is acknowledged, and how
    # long to wait for them (less than redis_socket_timeout, so that WAIT's answer
    # comes before the socket gives up). 0: acknowledged once the primary has it.
    redis_min_replicas: int = 0
    redis_wait_timeout: float = 1.5
    # A visit Redis surely did not count (no connection, NOREPLICAS, READONLY) is
    # tried again up to this many times in all, after 0.1 s, then 0.2 s, ..., while
    # less than redis_socket_timeout has gone by since the first try: 1.5 s of
    # pauses in all bridges a primary handing over to a replica (NOREPLICAS
    # until the other replicas follow the new primary).
    redis_visit_tries: int = 6
    redis_retry_pause: float = 0.1
    counter_key: str = "counter"
    name: str = "World"
    data_file: str = ""
    data_max_bytes: int = 64 * 1024 * 1024
    data_key_prefix: str = "meteorite:"
    data_batch_size: int = 1000
    # Who parses a POST /data body: "redis" (records.lua inside Redis, which hands
    # what it does not take on to the app's parser) or "python" (the app's parser,
    # records.py, only). The answers are the same; "python" costs the replica's CPU.
    data_parser: str = "redis"

    @property
    def data_index_key(self) -> str:
        """Sorted set of the loaded ids (score = load position); never starts with the prefix."""
        return f"{self._internal_base}ids"

    @property
    def data_load_key_prefix(self) -> str:
        """Prefix of the keys a running load stages its body, ids and records under."""
        return f"{self._internal_base}load:"

    @property
    def data_loads_key(self) -> str:
        """Hash of the running loads' tokens: a commit or delete removes it, overtaking them."""
        return f"{self._internal_base}loads"

    @property
    def _internal_base(self) -> str:
        last = self.data_key_prefix[-1]
        return self.data_key_prefix[:-1] + ("#" if last == "@" else "@")

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """The Sentinels as (host, port) pairs; empty without Sentinel."""
        addresses = []
        for item in self.redis_sentinels.split(","):
            if item.strip():
                host, _, port = item.strip().rpartition(":")
                addresses.append((host, int(port)))
        return addresses

    def redis_description(self) -> str:
        """Where Redis is, for messages."""
        if self.redis_sentinels:
            sentinels = self.redis_sentinels
            return f"the Redis primary {self.redis_master_name!r} (Sentinels {sentinels})"
        return f"Redis at {self.redis_host}:{self.redis_port}"

    def redis_password(self) -> str | None:
        """Read the password from REDIS_PASSWORD_FILE; None when unset, absent or empty."""
        if not self.redis_password_file:
            return None
        path = Path(self.redis_password_file)
        if not path.is_file():
            return None
        password = path.read_text(encoding="utf-8").rstrip("\r\n")
        return password or None


def _convert(name: str, kind: type, raw: Any) -> Any:
    if isinstance(raw, kind) and not isinstance(raw, bool):
        return raw
    if name == "redis_port" and str(raw).startswith("tcp://"):
        raw = str(raw).rsplit(":", 1)[-1]  # REDIS_PORT=tcp://host:6379 set by links/k8s
    try:
        value = kind(str(raw).strip()) if kind is not str else str(raw)
    except ValueError:
        raise ConfigError(f"{name.upper()}={raw!r} is not a valid {kind.__name__}") from None
    return value


def _check(settings: Settings) -> Settings:
    if not settings.data_key_prefix:
        raise ConfigError("DATA_KEY_PREFIX must not be empty (e.g. 'meteorite:')")
    for name in ("redis_socket_timeout", "redis_connect_timeout", "redis_bulk_timeout"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name.upper()} must be a positive number of seconds")
    for item in settings.redis_sentinels.split(","):
        host, _, port = item.strip().rpartition(":")
        if item.strip() and not (host and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(
                f"REDIS_SENTINELS={settings.redis_sentinels!r}: each entry must be host:port, "
                "e.g. 'sentinel:26379'"
            )
    if settings.redis_min_replicas < 0 or settings.redis_wait_timeout <= 0:
        raise ConfigError(
            "REDIS_MIN_REPLICAS must be 0 or more, REDIS_WAIT_TIMEOUT a positive number of seconds"
        )
    if settings.redis_min_replicas and settings.redis_wait_timeout >= settings.redis_socket_timeout:
        raise ConfigError(
            f"REDIS_WAIT_TIMEOUT={settings.redis_wait_timeout:g} must be less than "
            f"REDIS_SOCKET_TIMEOUT={settings.redis_socket_timeout:g}: WAIT would outlast "
            "the socket, and a visit Redis counted would show no count"
        )
    if settings.redis_visit_tries < 1 or settings.redis_retry_pause < 0:
        raise ConfigError(
            "REDIS_VISIT_TRIES must be 1 or more, REDIS_RETRY_PAUSE 0 or more seconds"
        )
    if settings.data_parser not in ("redis", "python"):
        raise ConfigError(f"DATA_PARSER={settings.data_parser!r}: say 'redis' or 'python'")
    if settings.data_max_bytes <= 0 or settings.data_batch_size <= 0:
        raise ConfigError("DATA_MAX_BYTES and DATA_BATCH_SIZE must be positive")
    return settings


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build Settings from `environ` (default os.environ), then `overrides`.

    Keys are matched case-insensitively to the field names (REDIS_HOST or redis_host).
    Unknown override keys are ignored so that Flask options can share the mapping.
    """
    environ = os.environ if environ is None else environ
    wanted = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for source in (environ, overrides or {}):
        for key, raw in source.items():
            name = key.lower()
            if name in wanted and not (raw == "" and source is environ):
                kind = type(getattr(Settings, name))
                values[name] = _convert(name, kind, raw)
    return _check(Settings(**values))
