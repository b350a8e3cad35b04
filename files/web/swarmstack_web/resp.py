"""A pooled redis-py connection driven directly, for the bulk paths of the record API.

redis-py's Pipeline keeps every queued command in memory until it runs, and its pure
Python reply parser costs microseconds per value. Loading and listing tens of thousands
of records needs neither: commands are packed and sent a batch at a time, and replies
are parsed here from one buffer. Everything else goes through the ordinary client.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from redis.connection import Connection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

RECV_BYTES = 256 * 1024
Parser = Callable[[bytes, int], tuple[Any, int]]


def pack(*args: bytes) -> bytes:
    """Encode one command in the Redis protocol (RESP2)."""
    parts = [b"*%d\r\n" % len(args)]
    parts.extend(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args)
    return b"".join(parts)


class _Incomplete(Exception):
    """The buffer ends inside a reply."""


def _parse(buf: bytes, pos: int) -> tuple[Any, int]:
    """Parse the reply starting at `pos`; return it and the position after it."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind, body, pos = buf[pos], buf[pos + 1 : end], end + 2
    if kind == 0x24:  # $ bulk string
        size = int(body)
        if size < 0:
            return None, pos
        if pos + size + 2 > len(buf):
            raise _Incomplete
        return buf[pos : pos + size], pos + size + 2
    if kind == 0x2A:  # * array
        items = []
        for _ in range(int(body)):
            item, pos = _parse(buf, pos)
            items.append(item)
        return (items if int(body) >= 0 else None), pos
    if kind == 0x3A:  # : integer
        return int(body), pos
    if kind == 0x2B:  # + simple string
        return body, pos
    if kind == 0x2D:  # - error
        return ResponseError(body.decode(errors="replace")), pos
    raise InvalidResponse(f"unexpected reply from Redis: {buf[pos - 2 : end]!r}")


def parse_strings(buf: bytes, pos: int) -> tuple[Any, int]:
    """Like _parse, faster for an array of bulk strings (e.g. HGETALL's reply)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    if buf[pos] != 0x2A or buf[pos + 1] == 0x2D:  # not an array, or a null one
        return _parse(buf, pos)
    items = []
    find = buf.find
    pos, count = end + 2, int(buf[pos + 1 : end])
    for _ in range(count):
        end = find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        start = end + 2
        pos = start + int(buf[pos + 1 : end])
        items.append(buf[start:pos])
        pos += 2
    if pos > len(buf):
        raise _Incomplete
    return items, pos


def _as_expected(block: bytes, expected: bytes, count: int) -> bool:
    """The usual case, checked without a Python object per reply."""
    if expected:
        return block == expected * count
    return not block.startswith(b"-") and b"\n-" not in block


class RawConnection:
    """One connection from the pool, used with packed commands and parsed replies.

    It goes back to the pool only when every reply was read; after any error it is
    closed, which also makes Redis discard an unfinished MULTI.
    """

    def __init__(self, pool: ConnectionPool, timeout: float | None = None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: Connection | None = None
        self._sock: socket.socket | None = None
        self._buf = b""
        self._pos = 0
        self._pending = 0

    def __enter__(self) -> RawConnection:
        self._conn = self._pool.get_connection("RAW")
        self._sock = self._conn._sock  # redis-py offers no public access to the socket
        if self._sock is None:
            raise RedisConnectionError("the connection from the pool is not connected")
        if self._timeout is not None:
            self._sock.settimeout(self._timeout)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        if kind is None and not self._pending and self._pos == len(self._buf):
            if self._sock is not None:
                self._sock.settimeout(self._conn.socket_timeout)
        else:
            self._conn.disconnect()
        self._pool.release(self._conn)

    def send(self, commands: Iterable[bytes]) -> None:
        """Send packed commands; read their replies with replies() or reply()."""
        data = list(commands)
        self._pending += len(data)
        try:
            assert self._sock is not None
            self._sock.sendall(b"".join(data))
        except TimeoutError:
            raise RedisTimeoutError("timeout writing to Redis") from None
        except OSError as err:
            raise RedisConnectionError(f"error writing to Redis: {err}") from None

    def call(self, *args: bytes) -> Any:
        """Run one command and return its reply; raise ResponseError on an error reply."""
        self.send([pack(*args)])
        return self.reply()

    def reply(self) -> Any:
        (value,) = self.replies(1)
        if isinstance(value, ResponseError):
            raise value
        return value

    def replies(self, count: int, parse: Parser = _parse) -> Iterator[Any]:
        """The next `count` replies; an error reply is yielded as a ResponseError."""
        for _ in range(count):
            while True:
                try:
                    value, self._pos = parse(self._buf, self._pos)
                    break
                except _Incomplete:
                    self._receive()
            self._pending -= 1
            yield value

    def check_lines(self, count: int, expected: bytes) -> None:
        """Read `count` one-line replies (status, integer or error) at once and raise
        the first error among them, or InvalidResponse if one differs from `expected`
        (b"" accepts any non-error reply)."""
        while self._buf.count(b"\r\n", self._pos) < count:
            self._receive()
        start = self._pos
        for _ in range(count):
            self._pos = self._buf.index(b"\r\n", self._pos) + 2
        self._pending -= count
        block = self._buf[start : self._pos]
        if _as_expected(block, expected, count):
            return
        for line in block.split(b"\r\n")[:-1]:
            if line[:1] == b"-":
                raise ResponseError(line[1:].decode(errors="replace"))
            if expected and line + b"\r\n" != expected:
                raise InvalidResponse(f"unexpected reply from Redis: {line!r}")

    def drain(self) -> None:
        """Read and drop every reply still due."""
        for _ in self.replies(self._pending):
            pass

    def array_header(self) -> int | None:
        """Read only the length line of an array reply (None for a null array), so that
        the elements can be read one by one with replies()."""
        while (end := self._buf.find(b"\r\n", self._pos)) < 0:
            self._receive()
        line, self._pos = self._buf[self._pos : end], end + 2
        if line[:1] == b"-":
            raise ResponseError(line[1:].decode(errors="replace"))
        if line[:1] != b"*":
            raise InvalidResponse(f"expected an array from Redis, got {line!r}")
        size = int(line[1:])
        self._pending += max(size, 0) - 1
        return size if size >= 0 else None

    def _receive(self) -> None:
        assert self._sock is not None
        try:
            chunk = self._sock.recv(RECV_BYTES)
        except TimeoutError:
            raise RedisTimeoutError("timeout reading from Redis") from None
        except OSError as err:
            raise RedisConnectionError(f"error reading from Redis: {err}") from None
        if not chunk:
            raise RedisConnectionError("Redis closed the connection")
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
