"""Every error as JSON with a message that says what to do next."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from .records import InvalidData
from .state import get_state
from .store import LoadConflict, NotReplicated

log = logging.getLogger(__name__)


def error_response(status: int, error: str, message: str) -> Response:
    response = jsonify(error=error, message=message, status=status)
    response.status_code = status
    return response


def _http_error(err: HTTPException) -> Response:
    response = err.get_response()
    body = error_response(err.code or 500, err.name, err.description or err.name)
    response.set_data(body.get_data())
    response.content_type = body.content_type
    return response


def _invalid_data(err: InvalidData) -> Response:
    response = error_response(err.status, HTTP_STATUS_CODES[err.status], str(err))
    if err.status == 413:
        response.headers["Connection"] = "close"
    return response


def _conflict(err: LoadConflict) -> Response:
    return error_response(409, "Conflict", str(err))


def _redis_error(err: RedisError) -> Response:
    settings = get_state().settings
    log.warning("Redis error: %s", err)
    return error_response(
        503,
        "Service Unavailable",
        f"{settings.redis_description()} is not available ({err}); "
        "nothing was changed, retry later",
    )


def _not_replicated(err: NotReplicated) -> Response:
    log.warning("Not confirmed by a replica: %s", err)
    return error_response(503, "Service Unavailable", str(err))


def unexpected(err: Exception) -> Response:
    """Any other error: logged with its traceback, a JSON 500 without details."""
    log.exception("Unexpected error", exc_info=err)
    return error_response(500, "Internal Server Error", "unexpected error, see the server log")


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InvalidData, _invalid_data)
    app.register_error_handler(LoadConflict, _conflict)
    app.register_error_handler(NotReplicated, _not_replicated)
    app.register_error_handler(RedisError, _redis_error)
    app.register_error_handler(Exception, unexpected)
