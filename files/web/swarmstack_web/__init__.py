"""swarmstack web app: a visit counter and a Meteorite Landings API on Redis."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask
from redis import Redis
from redis.sentinel import Sentinel

from .config import Settings, load_settings
from .state import AppState
from .store import RecordStore

__all__ = ["create_app"]


class ResolvingSentinel(Sentinel):
    """A Sentinel client that looks its Sentinels up in DNS before each discovery.

    A swarm service name (endpoint mode dnsrr) resolves to the address of every
    Sentinel task, and those change when a task is replaced. redis-py would resolve
    a name once per connection and so ask only the first Sentinel that answers, even
    one that still names a primary that is gone; this asks every address in turn.

    One discovery at a time per process: redis-py's reorders the shared list of
    Sentinels, and a gunicorn thread that replaced the list under another's loop
    (DNS answering differently while a node is lost) made that one fail with
    IndexError, a 500, on the lab.
    """

    def __init__(self, names: list[tuple[str, int]], **kwargs: Any) -> None:
        super().__init__([], **kwargs)
        self._names = names
        self._clients: dict[tuple[str, int], Redis] = {}
        self._discovering = threading.Lock()

    def _addresses(self) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for host, port in self._names:
            try:
                infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
            except OSError:
                continue
            for info in infos:
                address = (str(info[4][0]), port)
                if address not in found:
                    found.append(address)
        return found

    def discover_master(self, service_name: str) -> tuple[str, int]:
        with self._discovering:
            addresses = self._addresses()
            for address in addresses:
                if address not in self._clients:
                    self._clients[address] = Redis(address[0], address[1], **self.sentinel_kwargs)
            self.sentinels = [self._clients[address] for address in addresses]
            return tuple(super().discover_master(service_name))  # type: ignore[return-value]


def make_redis(settings: Settings, password: str | None) -> tuple[Redis, Redis]:
    """Two clients, each with its connection pool, built once per process: one with the
    short socket timeout of a page or a record, one with the bulk timeout for the calls
    of a big load or delete.

    With Sentinels, a client asks them for the primary on every new connection, so it
    follows a failover without a restart.
    """
    timeouts = (settings.redis_socket_timeout, settings.redis_bulk_timeout)
    options = {
        "db": settings.redis_db,
        "password": password,
        "socket_connect_timeout": settings.redis_connect_timeout,
        "decode_responses": True,
    }
    if settings.redis_sentinels:
        sentinel = ResolvingSentinel(
            settings.sentinel_addresses(),
            sentinel_kwargs={
                "password": password,
                "socket_timeout": settings.redis_connect_timeout,
                "socket_connect_timeout": settings.redis_connect_timeout,
            },
        )
        short, bulk = (
            sentinel.master_for(settings.redis_master_name, socket_timeout=timeout, **options)
            for timeout in timeouts
        )
        return short, bulk
    short, bulk = (
        Redis(
            host=settings.redis_host,
            port=settings.redis_port,
            socket_timeout=timeout,
            **options,
        )
        for timeout in timeouts
    )
    return short, bulk


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, overridden by `config`.

    Keys of `config` named like a setting (REDIS_HOST, NAME, ...) override the
    environment; the others (TESTING, ...) go to Flask's config.
    """
    settings = load_settings(config)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # records keep their field order
    app.config.update({k: v for k, v in (config or {}).items() if k.isupper()})
    password = settings.redis_password()
    client, bulk = make_redis(settings, password)
    app.extensions["swarmstack_web"] = AppState(
        settings=settings,
        redis=client,
        store=RecordStore(client, settings, bulk),
        hostname=socket.gethostname(),
    )
    _register(app)
    if app.logger.level == logging.NOTSET:  # also sets up Flask's handler for the package
        app.logger.setLevel(logging.INFO)
    app.logger.info(
        "%s db %s (password %s, %d replica(s) confirm a write), counter key %r, data prefix %r",
        settings.redis_description(),
        settings.redis_db,
        "set" if password else "not set",
        settings.redis_min_replicas,
        settings.counter_key,
        settings.data_key_prefix,
    )
    return app


def _register(app: Flask) -> None:
    from . import data_api, errors, site
    from .fastpath import CounterPage

    errors.register(app)
    app.register_blueprint(site.blueprint)
    app.register_blueprint(data_api.blueprint)
    app.wsgi_app = CounterPage(app, app.extensions["swarmstack_web"])  # type: ignore[method-assign]
