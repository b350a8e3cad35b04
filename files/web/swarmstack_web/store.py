"""Meteorite records in Redis: one hash per record, replaced all or nothing.

Layout (with the default prefix "meteorite:"):
  meteorite:<id>          hash, the record exactly as loaded (all values strings)
  meteorite@ids           sorted set of the loaded ids, score = position in the load
  meteorite@load:<token>  sorted set a running load uses to spot duplicate ids (1 h TTL)

A load runs as ONE MULTI/EXEC transaction fed in batches over a dedicated connection:
WATCH the id set, MULTI, queue UNLINK of the previous records, then for each batch of
input records UNLINK + HSET, finally RENAME the load's id set over the id set, EXEC.
Nothing is visible before EXEC; an invalid record, a duplicate id, a concurrent load or
a lost connection means the transaction is discarded and Redis is left as it was.
The web process never holds more than one batch; Redis holds the queued commands
until EXEC (measured: 200,000 records use 80 MB, the load peaks at ~300 MB).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from redis import Redis
from redis.exceptions import RedisError, ResponseError

from .config import Settings
from .records import InvalidData
from .resp import RawConnection, pack, parse_strings

LOAD_TTL_SECONDS = 3600
MAX_CACHED_NAMES = 256
READ_BATCH = 250  # records per round trip of GET /data: a few MB of Python objects at most


class LoadConflict(RuntimeError):
    """Another load or delete changed the records while this one ran."""


class NotReplicated(RuntimeError):
    """The primary applied a change that too few replicas confirmed in time."""


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _raise_first_error(replies: Iterable[Any]) -> None:
    for reply in replies:
        if isinstance(reply, ResponseError):
            raise reply


def _decode_record(items: list[bytes]) -> dict[str, str]:
    pairs = iter(items)
    return {field.decode(): value.decode() for field, value in zip(pairs, pairs, strict=False)}


class RecordStore:
    """Load, read and delete the meteorite records of one Redis database."""

    def __init__(self, client: Redis, settings: Settings) -> None:
        self._redis = client
        self._prefix = settings.data_key_prefix.encode()
        self._index = settings.data_index_key.encode()
        self._load_prefix = settings.data_load_key_prefix.encode()
        self._batch = settings.data_batch_size
        self._bulk_timeout = settings.redis_bulk_timeout
        self._min_replicas = settings.redis_min_replicas
        self._wait_ms = int(settings.redis_wait_timeout * 1000)
        self._names: dict[str, str] = {}  # packed field names seen before

    def _raw(self, timeout: float | None = None) -> RawConnection:
        return RawConnection(self._redis.connection_pool, timeout)

    def _id_batches(self, conn: RawConnection, size: int) -> Iterator[list[bytes]]:
        """The loaded ids in load order, `size` at a time."""
        start = 0
        while ids := conn.call(b"ZRANGE", self._index, b"%d" % start, b"%d" % (start + size - 1)):
            yield ids
            start += size

    @staticmethod
    def _queue(tx: RawConnection, commands: list[bytes]) -> None:
        """Send commands inside MULTI; an error reply (e.g. OOM) aborts the load."""
        tx.send(commands)
        tx.check_lines(len(commands), b"+QUEUED\r\n")

    @staticmethod
    def _execute(tx: RawConnection) -> None:
        """EXEC; a null reply means the watched id set changed since WATCH."""
        tx.send([pack(b"EXEC")])
        size = tx.array_header()
        if size is None:
            raise LoadConflict("another load or delete ran at the same time; retry")
        tx.check_lines(size, b"")  # integers and OKs

    def _confirm(self, tx: RawConnection, what: str) -> None:
        """WAIT until enough replicas hold this connection's writes, or say so."""
        if not self._min_replicas:
            return
        confirmed = tx.call(b"WAIT", b"%d" % self._min_replicas, b"%d" % self._wait_ms)
        if confirmed < self._min_replicas:
            raise NotReplicated(
                f"{what} was applied on the Redis primary, but {confirmed} of the "
                f"{self._min_replicas} replica(s) needed confirmed it within "
                f"{self._wait_ms / 1000:g} s, so losing the primary's node now could undo it; "
                "retry the same request once a replica is back"
            )

    def _queue_unlink_loaded(self, tx: RawConnection, side: RawConnection) -> int:
        removed = 0
        for ids in self._id_batches(side, self._batch):
            self._queue(tx, [pack(b"UNLINK", *(self._prefix + i for i in ids))])
            removed += len(ids)
        return removed

    def replace(self, records: Iterable[dict[str, str]]) -> int:
        """Replace all records by `records`; return how many were stored."""
        load_key = self._load_prefix + uuid.uuid4().hex.encode()
        try:
            with self._raw(self._bulk_timeout) as tx, self._raw() as side:
                tx.call(b"WATCH", self._index)
                tx.call(b"MULTI")
                self._queue_unlink_loaded(tx, side)
                stored = self._queue_records(tx, side, records, load_key)
                last = [pack(b"RENAME", load_key, self._index), pack(b"PERSIST", self._index)]
                self._queue(tx, last if stored else [pack(b"DEL", self._index)])
                self._execute(tx)
                self._confirm(tx, f"the load of {stored} records")
        finally:
            self._forget(load_key)
        return stored

    def _forget(self, load_key: bytes) -> None:
        with contextlib.suppress(RedisError):  # else it expires by itself
            self._redis.delete(load_key)

    def _queue_records(
        self,
        tx: RawConnection,
        side: RawConnection,
        records: Iterable[dict[str, str]],
        load_key: bytes,
    ) -> int:
        """Queue the records a batch at a time. Redis works on one batch while the next
        is read and packed: a batch's replies are read after the next batch is sent."""
        stored = 0
        unread: tuple[list[bytes], int] | None = None  # ids and position of a sent batch
        for batch in batched(records, self._batch):
            packed = [self._pack_record(stored + n, record) for n, record in enumerate(batch)]
            keys = [key for key, _ in packed]
            ids = [key[len(self._prefix) :] for key in keys]
            members = [part for n, i in enumerate(ids) for part in (b"%d" % (stored + n), i)]
            side.send(
                [
                    pack(b"ZADD", load_key, b"NX", *members),
                    pack(b"EXPIRE", load_key, b"%d" % LOAD_TTL_SECONDS),
                ]
            )
            tx.send([pack(b"UNLINK", *keys), *(command for _, command in packed)])
            if unread:
                self._check_batch(tx, side, load_key, *unread)
            unread = ids, stored
            stored += len(batch)
        if unread:
            self._check_batch(tx, side, load_key, *unread)
        return stored

    def _pack_record(self, position: int, record: dict[str, str]) -> tuple[bytes, bytes]:
        """The record's key and its HSET command; refuse text Redis cannot store."""
        try:
            key = self._prefix + record["id"].encode()
            return key, self._pack_hset(key, record)
        except UnicodeEncodeError:
            raise InvalidData(
                f"records[{position}] (id {record['id']!r}) holds text that is not valid "
                "Unicode (a lone surrogate such as \\ud800)"
            ) from None

    def _pack_hset(self, key: bytes, record: dict[str, str]) -> bytes:
        """HSET key field value...: built as text and encoded once (fast for ASCII)."""
        names = self._names
        parts = [b"*%d\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n" % (2 + 2 * len(record), len(key), key)]
        text = []
        for field, value in record.items():
            name = names.get(field)
            if name is None:
                name = f"${len(field.encode())}\r\n{field}\r\n"
                if len(names) < MAX_CACHED_NAMES:
                    names[field] = name
            size = len(value) if value.isascii() else len(value.encode())
            text += (name, f"${size}\r\n{value}\r\n")
        parts.append("".join(text).encode())
        return b"".join(parts)

    def _check_batch(
        self,
        tx: RawConnection,
        side: RawConnection,
        load_key: bytes,
        ids: list[bytes],
        first: int,
    ) -> None:
        """Read a sent batch's replies: all queued, and no id seen before in this load."""
        tx.check_lines(len(ids) + 1, b"+QUEUED\r\n")
        added, _ = side.reply(), side.reply()
        if added == len(ids):
            return
        side.drain()  # the next batch's replies, if any
        scores = side.call(b"ZMSCORE", load_key, *ids)
        seen: set[bytes] = set()
        for n, (record_id, score) in enumerate(zip(ids, scores, strict=True)):
            if record_id in seen or float(score) < first:
                raise InvalidData(
                    f"records[{first + n}]: duplicate id {record_id.decode()!r} "
                    "(ids must be unique)"
                )
            seen.add(record_id)
        raise InvalidData("duplicate ids (ids must be unique)")

    def iter_batches(self) -> Iterator[list[dict[str, str]]]:
        """The records in load order, a batch at a time (two round trips per batch)."""
        with self._raw() as conn:
            for ids in self._id_batches(conn, READ_BATCH):
                conn.send([pack(b"HGETALL", self._prefix + i) for i in ids])
                replies = list(conn.replies(len(ids), parse_strings))
                _raise_first_error(replies)
                yield [_decode_record(items) for items in replies if items]

    def get(self, record_id: str) -> dict[str, str] | None:
        """One record, or None when no record with that id is loaded."""
        raw_id = record_id.encode("utf-8", "surrogatepass")  # never matches a stored id
        pipe = self._redis.pipeline(transaction=True)
        pipe.zscore(self._index, raw_id)
        pipe.hgetall(self._prefix + raw_id)
        score, record = pipe.execute()
        return record if score is not None else None

    def count(self) -> int:
        return int(self._redis.zcard(self._index))

    def delete_all(self) -> int:
        """Remove every loaded record and the id set, nothing else; return the count."""
        for _ in range(3):
            with contextlib.suppress(LoadConflict), self._raw(self._bulk_timeout) as tx:
                with self._raw() as side:
                    tx.call(b"WATCH", self._index)
                    tx.call(b"MULTI")
                    removed = self._queue_unlink_loaded(tx, side)
                self._queue(tx, [pack(b"DEL", self._index)])
                self._execute(tx)
                self._confirm(tx, f"the delete of {removed} records")
                return removed
        raise LoadConflict("the records kept changing during the delete; retry")
