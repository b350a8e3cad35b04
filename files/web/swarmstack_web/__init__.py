"""swarmstack web app: a visit counter and a Meteorite Landings API on Redis."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

from flask import Flask
from redis import Redis
from redis.sentinel import Sentinel

from .config import Settings, load_settings
from .state import AppState
from .store import RecordStore

__all__ = ["create_app"]


def make_redis(settings: Settings, password: str | None) -> Redis:
    """One client, hence one connection pool, per process.

    With Sentinels, the client asks them for the primary on every new connection,
    so it follows a failover without a restart.
    """
    if settings.redis_sentinels:
        sentinel = Sentinel(
            settings.sentinel_addresses(),
            sentinel_kwargs={
                "password": password,
                "socket_timeout": settings.redis_connect_timeout,
                "socket_connect_timeout": settings.redis_connect_timeout,
            },
        )
        client: Redis = sentinel.master_for(
            settings.redis_master_name,
            db=settings.redis_db,
            password=password,
            socket_timeout=settings.redis_socket_timeout,
            socket_connect_timeout=settings.redis_connect_timeout,
            decode_responses=True,
        )
        return client
    return Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db,
        password=password,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_connect_timeout,
        decode_responses=True,
    )


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
    client = make_redis(settings, password)
    app.extensions["swarmstack_web"] = AppState(
        settings=settings,
        redis=client,
        store=RecordStore(client, settings),
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

    errors.register(app)
    app.register_blueprint(site.blueprint)
    app.register_blueprint(data_api.blueprint)
