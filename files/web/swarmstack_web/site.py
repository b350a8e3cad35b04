"""The visit counter page and the health probes."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from markupsafe import Markup, escape
from redis.exceptions import RedisError

from .state import AppState, get_state

blueprint = Blueprint("site", __name__)
log = logging.getLogger(__name__)
COUNTER_DISABLED = Markup("<i>cannot connect to Redis, counter disabled</i>")
# The visit reached the primary but no replica confirmed it in time: a count that
# a failover could undo is never shown.
NOT_CONFIRMED = Markup("<i>no Redis replica confirmed the visit, counter disabled</i>")


def count_visit(state: AppState) -> Markup:
    """INCR the counter; with replicas required, WAIT for them on the same connection."""
    settings = state.settings
    if not settings.redis_min_replicas:
        return escape(state.redis.incr(settings.counter_key))
    pipe = state.redis.pipeline(transaction=False)
    pipe.incr(settings.counter_key)
    needed = settings.redis_min_replicas
    pipe.execute_command("WAIT", needed, int(settings.redis_wait_timeout * 1000))
    count, confirmed = pipe.execute()
    if confirmed < needed:
        log.warning("Visit %s not confirmed by a replica (%s of %s)", count, confirmed, needed)
        return NOT_CONFIRMED
    return escape(count)


@blueprint.get("/")
def hello() -> str:
    state = get_state()
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
