"""Meteorite records in Redis: one hash per record, replaced all or nothing.

Layout (with the default prefix "meteorite:"):
  meteorite:<id>                  hash, the record exactly as loaded (all values strings)
  meteorite@ids                   sorted set of the loaded ids, score = position in the load
and, while a load runs (1 h TTL, removed when it ends):
  meteorite@loads                 hash of the running loads' tokens
  meteorite@load:<token>@body     the body as it arrived
  meteorite@load:<token>          sorted set of the load's ids (a duplicate id shows)
  meteorite@load:<token>:<batch>  a batch of checked records, MessagePack

The work on the records runs inside Redis, in the functions of records.lua (loaded
with FUNCTION LOAD on first use): a web replica, held to 0.1 CPU, passes the body to
Redis as it arrives and gets the records back already encoded as JSON. A document
those functions do not take on (an object with other members, an escape they cannot
decode, anything invalid) is read by records.py's parser instead, from the copy in
Redis, so every error message is that parser's. Nothing is visible before the commit,
one function call. A load that fails, or that another load or delete overtook (409),
leaves Redis as it was.
"""

from __future__ import annotations

import codecs
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from redis import Redis
from redis.connection import Connection
from redis.exceptions import RedisError, ResponseError

from .config import Settings
from .records import InvalidData, iter_records

_LIBRARY_TEXT = Path(__file__).with_name("records.lua").read_text(encoding="utf-8")
# The library's name carries its text's digest: a changed records.lua is a new library.
LIBRARY = "swarmstack_records_" + hashlib.sha256(_LIBRARY_TEXT.encode()).hexdigest()[:12]
LIBRARY_SOURCE = _LIBRARY_TEXT.replace("__LIBRARY__", LIBRARY)
LOAD_TTL_MS = 3600 * 1000
BODY_CHUNK = 256 * 1024  # bytes per APPEND
READ_CHUNK = 64 * 1024  # bytes of the stored body per read when records.py parses it
READ_BATCH = 1000  # records per round trip of GET /data (~150 kB of JSON)
UTF8_BOM = codecs.BOM_UTF8


class LoadConflict(RuntimeError):
    """Another load or delete changed the records while this one ran."""


class NotReplicated(RuntimeError):
    """The primary applied a change that too few replicas confirmed in time."""


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _flat_fields(position: int, record: dict[str, str]) -> list[bytes]:
    """The record's fields and values, in order, as UTF-8; refuse text Redis cannot store."""
    try:
        return [part.encode() for pair in record.items() for part in pair]
    except UnicodeEncodeError:
        raise InvalidData(
            f"records[{position}] (id {record['id']!r}) holds text that is not valid "
            "Unicode (a lone surrogate such as \\ud800)"
        ) from None


def _as_objects(text: bytes, form: bytes) -> bytes:
    """records.lua's text of a read as JSON objects joined by ','."""
    if form == b"pairs":  # [[["k","v"],["k","v"]],[["k","v"]]], no quote in any string
        text = text.replace(b'","', b'":"').replace(b'"],["', b'","')
        text = b"{" + text.replace(b'"]],[["', b'"},{"')[3:-3] + b"}"
    return text.replace(b"\\/", b"/")  # cjson's '\/' (a backslash is always an escape)


class _Load:
    """The keys of one running load and how many batches it has staged."""

    def __init__(self, load_prefix: str) -> None:
        self.token = uuid.uuid4().hex
        base = load_prefix + self.token
        self.body = base + "@body"
        self.ids = base
        self.stage = base + ":"
        self.batches = 0


class _Session:
    """One connection of the bulk pool, held for a whole load, delete or read.

    A load runs on one connection, as a client's writes and its WAIT must: if that
    connection is lost, the load fails and is undone (on another connection).
    """

    def __init__(self, client: Redis) -> None:
        self._pool = client.connection_pool
        self._conn: Connection | None = None

    def __enter__(self) -> _Session:
        self._conn = self._pool.get_connection("FCALL")
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if error is not None and not isinstance(error, ResponseError):
            conn.disconnect()  # its replies may be out of step
        self._pool.release(conn)

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("a _Session is used inside its with block only")
        return self._conn

    def call(self, *args: Any, raw: bool = False) -> Any:
        self.conn.send_command(*args)
        return self.read(raw)

    def read(self, raw: bool = False) -> Any:
        return self.conn.read_response(disable_decoding=raw)

    def send_fcall(self, function: str, keys: list[str], *args: Any, read_only: bool) -> None:
        """Send an FCALL(_RO) whose reply `read` takes later (the library is loaded)."""
        command = "FCALL_RO" if read_only else "FCALL"
        self.conn.send_command(command, f"{LIBRARY}_{function}", len(keys), *keys, *args)

    def calls(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send the commands at once; their replies, an error reply as its exception."""
        self.conn.send_packed_command(self.conn.pack_commands(commands))
        replies = []
        for _ in commands:
            try:
                replies.append(self.conn.read_response())
            except ResponseError as err:
                replies.append(err)
        return replies

    def fcall(
        self,
        function: str,
        keys: list[str],
        *args: Any,
        read_only: bool = False,
        raw: bool = False,
    ) -> Any:
        """FCALL (FCALL_RO) of LIBRARY's function, loading the library if Redis lacks it."""
        command = ("FCALL_RO" if read_only else "FCALL", f"{LIBRARY}_{function}", len(keys))
        try:
            return self.call(*command, *keys, *args, raw=raw)
        except ResponseError as err:
            if "Function not found" not in str(err):
                raise
        self.call("FUNCTION", "LOAD", "REPLACE", LIBRARY_SOURCE)
        return self.call(*command, *keys, *args, raw=raw)


class RecordStore:
    """Load, read and delete the meteorite records of one Redis database.

    `client` serves the short calls; `bulk` (default: the same) the calls of a load,
    a delete or a read of every record, which may take a while on a big load: give it
    a longer socket timeout.
    """

    def __init__(self, client: Redis, settings: Settings, bulk: Redis | None = None) -> None:
        self._redis = client
        self._bulk = bulk if bulk is not None else client
        self._prefix = settings.data_key_prefix
        self._index = settings.data_index_key
        self._load_prefix = settings.data_load_key_prefix
        self._loads = settings.data_loads_key
        self._batch = settings.data_batch_size
        self._parse_in_redis = settings.data_parser == "redis"
        self._min_replicas = settings.redis_min_replicas
        self._wait_ms = int(settings.redis_wait_timeout * 1000)

    def _change(
        self,
        session: _Session,
        what: Callable[[Any], str],
        function: str,
        keys: list[str],
        *args: Any,
    ) -> Any:
        """A function that changes the records and, on the same connection, WAIT for the
        replicas to hold the change; a CONFLICT reply is a LoadConflict."""
        for attempt in (1, 2):
            command = ("FCALL", f"{LIBRARY}_{function}", len(keys), *keys, *args)
            waits = [("WAIT", self._min_replicas, self._wait_ms)] if self._min_replicas else []
            result, *confirmed = session.calls(command, *waits)
            if isinstance(result, ResponseError):
                if attempt == 1 and "Function not found" in str(result):
                    session.call("FUNCTION", "LOAD", "REPLACE", LIBRARY_SOURCE)
                    continue
                if str(result).startswith("CONFLICT "):
                    raise LoadConflict(str(result).removeprefix("CONFLICT "))
                raise result
            if confirmed:
                self._confirm(confirmed[0], what(result))
            return result
        raise AssertionError("unreachable")

    def _confirm(self, confirmed: Any, what: str) -> None:
        if isinstance(confirmed, RedisError):
            raise confirmed
        if confirmed < self._min_replicas:
            raise NotReplicated(
                f"{what} was applied on the Redis primary, but {confirmed} of the "
                f"{self._min_replicas} replica(s) needed confirmed it within "
                f"{self._wait_ms / 1000:g} s, so losing the primary's node now could undo it; "
                "retry the same request once a replica is back"
            )

    # -- loading ------------------------------------------------------------------

    def replace(self, chunks: Iterable[bytes]) -> int:
        """Replace all records by the JSON document in `chunks`; return how many were stored."""
        load = _Load(self._load_prefix)
        try:
            with _Session(self._bulk) as session:
                session.calls(
                    ("HSET", self._loads, load.token, 1), ("PEXPIRE", self._loads, LOAD_TTL_MS)
                )
                start = self._store_body(session, load, chunks)
                if (
                    start is None
                    or not self._parse_in_redis
                    or self._stage_in_redis(session, load, start) is None
                ):
                    self._abort(session, load, keep_body=True)
                    records = iter_records(self._stored_body(session, load))
                    self._stage_parsed(session, load, records)
                return int(
                    self._change(
                        session,
                        lambda stored: f"the load of {stored} records",
                        "commit",
                        [self._index, load.ids, self._loads, load.body],
                        self._prefix,
                        load.stage,
                        load.token,
                        load.batches,
                    )
                )
        finally:
            self._forget(load)

    def _store_body(self, session: _Session, load: _Load, chunks: Iterable[bytes]) -> int | None:
        """APPEND the body to Redis; return where its JSON starts, None when not UTF-8."""
        utf8 = codecs.getincrementaldecoder("utf-8")()
        valid = True
        start: int | None = None
        pending: list[bytes] = []
        size = 0
        for chunk in chunks:
            if start is None and chunk:
                start = len(UTF8_BOM) if chunk.startswith(UTF8_BOM) else 0
            if valid:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
            pending.append(chunk)
            size += len(chunk)
            if size >= BODY_CHUNK:
                session.call("APPEND", load.body, b"".join(pending))
                pending, size = [], 0
        session.calls(("APPEND", load.body, b"".join(pending)), ("PEXPIRE", load.body, LOAD_TTL_MS))
        if valid:
            try:
                utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                valid = False
        return (start or 0) if valid else None

    def _stage_in_redis(self, session: _Session, load: _Load, start: int) -> int | None:
        """Let records.lua parse and stage the body; None when it leaves it to records.py."""
        position, staged, state = start, 0, "start"
        while True:
            status, position, staged, state = session.fcall(
                "step",
                [load.body, load.ids],
                load.stage,
                LOAD_TTL_MS,
                position,
                staged,
                state,
                self._batch,
                load.batches,
            )
            load.batches += 1
            if status == "done":
                return int(staged)
            if status != "more":
                return None

    @staticmethod
    def _stored_body(session: _Session, load: _Load) -> Iterator[bytes]:
        """The body as stored in Redis, a chunk at a time."""
        offset = 0
        while chunk := session.call(
            "GETRANGE", load.body, offset, offset + READ_CHUNK - 1, raw=True
        ):
            yield chunk
            offset += READ_CHUNK

    def _stage_parsed(
        self, session: _Session, load: _Load, records: Iterable[dict[str, str]]
    ) -> int:
        """Stage the records records.py parsed, a batch at a time."""
        stored = 0
        for batch in batched(records, self._batch):
            args: list[Any] = [load.stage, LOAD_TTL_MS, stored, load.batches]
            for n, record in enumerate(batch):
                fields = _flat_fields(stored + n, record)
                args += [len(fields), *fields]
            answer = session.fcall("stage", [load.ids], *args)
            load.batches += 1
            if answer == "duplicate":
                self._raise_duplicate(session, load, batch, stored)
            stored += len(batch)
        return stored

    @staticmethod
    def _raise_duplicate(
        session: _Session, load: _Load, batch: list[dict[str, str]], first: int
    ) -> None:
        ids = [record["id"] for record in batch]
        scores = session.call("ZMSCORE", load.ids, *ids)
        seen: set[str] = set()
        for n, (record_id, score) in enumerate(zip(ids, scores, strict=True)):
            if record_id in seen or score is None or float(score) < first:
                raise InvalidData(
                    f"records[{first + n}]: duplicate id {record_id!r} (ids must be unique)"
                )
            seen.add(record_id)
        raise InvalidData("duplicate ids (ids must be unique)")

    def _abort(self, session: _Session, load: _Load, keep_body: bool = False) -> None:
        keep = ["keep-body"] if keep_body else []
        keys = [load.ids, self._loads, load.body]
        session.fcall("abort", keys, load.stage, load.token, load.batches, *keep)
        if keep_body:
            load.batches = 0

    def _forget(self, load: _Load) -> None:
        """Remove what the load left in Redis (after a commit, only its token), on a
        connection of its own: the load's may be the one that failed."""
        try:
            with _Session(self._bulk) as session:
                self._abort(session, load)
        except RedisError:
            pass  # its keys expire by themselves

    # -- reading and deleting -----------------------------------------------------

    def iter_json(self) -> Iterator[bytes]:
        """The records in load order as JSON objects, a batch per piece (',' between
        records, none between pieces). The next batch is asked for before this one is
        handed on, so that Redis encodes it while this one goes out."""
        keys = [self._index]
        with _Session(self._bulk) as session:
            reply = session.fcall(
                "read", keys, self._prefix, 0, READ_BATCH, read_only=True, raw=True
            )
            first = 0
            while True:
                read, text, form = reply
                first += read
                more = read == READ_BATCH
                if more:
                    session.send_fcall(
                        "read", keys, self._prefix, first, READ_BATCH, read_only=True
                    )
                if text:
                    yield _as_objects(text, form)
                if not more:
                    return
                reply = session.read(raw=True)

    def get(self, record_id: str) -> dict[str, str] | None:
        """One record, or None when no record with that id is loaded."""
        raw_id = record_id.encode("utf-8", "surrogatepass")  # never matches a stored id
        pipe = self._redis.pipeline(transaction=True)
        pipe.zscore(self._index, raw_id)
        pipe.hgetall(self._prefix.encode() + raw_id)
        score, record = pipe.execute()
        return record if score is not None else None

    def count(self) -> int:
        return int(self._redis.zcard(self._index))

    def delete_all(self) -> int:
        """Remove every loaded record and the id set, nothing else; return the count."""
        with _Session(self._bulk) as session:
            return int(
                self._change(
                    session,
                    lambda removed: f"the delete of {removed} records",
                    "delete",
                    [self._index, self._loads],
                    self._prefix,
                )
            )
