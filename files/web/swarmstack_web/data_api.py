"""The Meteorite Landings API on /data."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import BinaryIO

from flask import Blueprint, Response, jsonify, request

from .errors import error_response
from .records import InvalidData, TooLarge
from .state import get_state

blueprint = Blueprint("data", __name__)
CHUNK_BYTES = 64 * 1024


def _body_chunks(max_bytes: int) -> Iterator[bytes]:
    """The request body in chunks, refusing more than `max_bytes` (also when chunked)."""
    too_large = TooLarge(f"the body is larger than DATA_MAX_BYTES={max_bytes} bytes")
    if (request.content_length or 0) > max_bytes:
        raise too_large
    total = 0
    while chunk := request.stream.read(CHUNK_BYTES):
        total += len(chunk)
        if total > max_bytes:
            raise too_large
        yield chunk


class DataFileUnreadable(InvalidData):
    status = 503


def _file_chunks(path: str) -> Iterator[bytes]:
    """DATA_FILE in chunks; a missing setting or file is refused before anything starts."""
    if not path:
        raise InvalidData(
            "the request has no body and DATA_FILE is not set: "
            "POST the records as JSON, or set DATA_FILE"
        )
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the generator below
    except OSError as err:
        raise DataFileUnreadable(f"DATA_FILE={path} cannot be read ({err.strerror})") from None
    return _read_all(handle)


def _read_all(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


@blueprint.post("/data")
def load() -> tuple[Response, int]:
    """Replace all records by the body's, or by DATA_FILE's when there is no body."""
    body = _body_chunks(get_state().settings.data_max_bytes)
    first = next(body, b"")
    chunks = chain([first], body) if first else _file_chunks(get_state().settings.data_file)
    stored = get_state().store.replace(chunks)
    return jsonify(stored=stored), 201


@blueprint.get("/data")
def list_records() -> Response:
    """All records as one JSON list, in load order, streamed a batch at a time."""
    batches = get_state().store.iter_json()
    first = next(batches, b"")  # a Redis error here still gets a proper 503
    return Response(_json_list(chain([first], batches)), mimetype="application/json")


def _json_list(batches: Iterator[bytes]) -> Iterator[bytes]:
    """'[', the batches of records separated by ',', ']': one piece of output per batch."""
    opened = False
    for batch in batches:
        if batch:
            yield (b",\n" if opened else b"[\n") + batch
            opened = True
    yield b"\n]\n" if opened else b"[]\n"


@blueprint.get("/data/<path:record_id>")
def get_record(record_id: str) -> tuple[Response, int]:
    record = get_state().store.get(record_id)
    if record is None:
        return error_response(404, "Not Found", f"no record with id {record_id!r}"), 404
    return jsonify(record), 200


@blueprint.delete("/data")
def delete_records() -> tuple[Response, int]:
    """Remove every record (the visit counter and other keys stay)."""
    return jsonify(deleted=get_state().store.delete_all()), 200
