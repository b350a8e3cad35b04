"""The visit counter page and the health probes."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from markupsafe import Markup, escape
from redis.exceptions import RedisError

from .state import get_state

blueprint = Blueprint("site", __name__)
log = logging.getLogger(__name__)
COUNTER_DISABLED = Markup("<i>cannot connect to Redis, counter disabled</i>")


@blueprint.get("/")
def hello() -> str:
    state = get_state()
    try:
        visits: Markup | str = escape(state.redis.incr(state.settings.counter_key))
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
