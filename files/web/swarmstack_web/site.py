"""The visit counter page and the health probes."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, jsonify
from markupsafe import Markup, escape
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .state import AppState, get_state

blueprint = Blueprint("site", __name__)
log = logging.getLogger(__name__)
COUNTER_DISABLED = Markup("<i>cannot connect to Redis, counter disabled</i>")
# The visit reached the primary but no replica confirmed it in time: a count that
# a failover could undo is never shown.
NOT_CONFIRMED = Markup("<i>no Redis replica confirmed the visit, counter disabled</i>")


# Replies that say Redis did not run the INCR: no replica to copy it to
# (min-replicas-to-write), a server that is a replica now or still loading.
_REFUSED = ("NOREPLICAS", "READONLY", "LOADING", "MASTERDOWN")


class _NotCounted(RedisError):
    """Redis surely did not count this visit: asking again counts it at most once."""


def _incr(state: AppState) -> tuple[int, int | None]:
    """INCR the counter and, with replicas required, WAIT for them, on one connection.

    A connection that cannot be had (Redis or the Sentinels unreachable) or a refused
    INCR raise _NotCounted; an error after the INCR was sent is raised as it is, since
    Redis may have counted the visit.
    """
    settings = state.settings
    commands: list[tuple[object, ...]] = [("INCR", settings.counter_key)]
    if settings.redis_min_replicas:
        wait_ms = int(settings.redis_wait_timeout * 1000)
        commands.append(("WAIT", settings.redis_min_replicas, wait_ms))
    pool = state.redis.connection_pool
    try:
        conn = pool.get_connection("INCR")
    except (RedisConnectionError, RedisTimeoutError) as err:
        raise _NotCounted(str(err)) from err
    try:
        conn.send_packed_command(conn.pack_commands(commands))
        replies: list[object] = []
        for _ in commands:
            try:
                replies.append(conn.read_response())
            except ResponseError as err:
                replies.append(err)
    except RedisConnectionError as err:
        conn.disconnect()
        if "previous master is now a slave" in str(err):  # redis-py's READONLY
            raise _NotCounted(str(err)) from err
        raise
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)
    count, *confirmed = replies
    if isinstance(count, ResponseError):
        if str(count).startswith(_REFUSED):
            raise _NotCounted(str(count)) from count
        raise count
    if confirmed and isinstance(confirmed[0], ResponseError):
        raise confirmed[0]
    return int(count), (int(confirmed[0]) if confirmed else None)  # type: ignore[call-overload]


def count_visit(state: AppState) -> Markup:
    """Count the visit; a visit Redis surely did not count is tried again, a little later
    (a server becoming the primary, a replica coming back), up to REDIS_VISIT_TRIES times
    in all, but not once REDIS_SOCKET_TIMEOUT has gone by (Redis unreachable)."""
    settings = state.settings
    started = time.monotonic()
    for attempt in range(1, settings.redis_visit_tries + 1):
        try:
            count, confirmed = _incr(state)
            break
        except _NotCounted as err:
            late = time.monotonic() - started >= settings.redis_socket_timeout
            if attempt == settings.redis_visit_tries or late:
                raise
            log.info("Visit not counted (%s), trying again", err)
            time.sleep(settings.redis_retry_pause * attempt)
    if confirmed is not None and confirmed < settings.redis_min_replicas:
        log.warning(
            "Visit %s not confirmed by a replica (%s of %s)",
            count,
            confirmed,
            settings.redis_min_replicas,
        )
        return NOT_CONFIRMED
    return escape(count)


def counter_page(state: AppState) -> str:
    """The page of GET /: count the visit and say so (or why it was not counted)."""
    try:
        visits = count_visit(state)
    except RedisError as err:
        log.warning("Visit counter disabled: %s", err)
        visits = COUNTER_DISABLED
    return (
        f"<h3>Hello {escape(state.settings.name)}!</h3>"
        f"<b>Hostname:</b> {escape(state.hostname)}<br/>"
        f"<b>Visits:</b> {visits}"
    )


@blueprint.get("/")
def hello() -> str:
    """The page through Flask: HEAD / (fastpath.CounterPage answers GET / before Flask)."""
    return counter_page(get_state())


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process answers; Redis is not asked."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when Redis answers PING."""
    state = get_state()
    try:
        state.redis.ping()
    except RedisError as err:
        return jsonify(status="unavailable", error=f"Redis does not answer: {err}"), 503
    return jsonify(status="ready"), 200
