"""Streaming reader of Meteorite Landings JSON: one record at a time, never the whole body.

Accepted documents: a list of records, or an object whose "meteorite_landings" member is
that list (other members are read and ignored). A record is an object whose values are all
strings and which has a non-empty string "id".
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

LIST_KEY = "meteorite_landings"
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class InvalidData(ValueError):
    """The input is not a valid set of records; the message says what is wrong."""

    status = 400


class TooLarge(InvalidData):
    """The input is larger than allowed."""

    status = 413


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), "a number")


def check_record(position: int, record: Any) -> dict[str, str]:
    """Return `record` if it is a valid record, else raise InvalidData naming the problem."""
    where = f"records[{position}]"
    if not isinstance(record, dict):
        raise InvalidData(f"{where} is {_kind(record)}, expected an object")
    record_id = record.get("id")
    if record_id is None:
        raise InvalidData(f"{where} has no 'id'")
    if not isinstance(record_id, str) or not record_id:
        raise InvalidData(f"{where}: 'id' must be a non-empty string")
    for field, value in record.items():
        if not isinstance(value, str):
            raise InvalidData(
                f"{where} (id {record_id!r}): {field!r} is {_kind(value)}, "
                "expected a string (quote it)"
            )
    return record


def _maybe_truncated(err: json.JSONDecodeError, end: int) -> bool:
    """Could more input turn this error into valid JSON?"""
    return err.pos >= end - 6 or err.msg.startswith("Unterminated string")


class _Reader:
    """A window on a stream of UTF-8 text with just enough of a JSON tokenizer."""

    def __init__(self, chunks: Iterable[bytes], max_value_chars: int) -> None:
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._max_value = max_value_chars
        self.buf = ""
        self.pos = 0
        self._offset = 0  # characters dropped from the front of buf
        self._eof = False

    def _fill(self) -> bool:
        """Append the next chunk to the window; False at the end of the input."""
        if self._eof:
            return False
        chunk = next(self._chunks, None)
        try:
            text = self._utf8.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as err:
            raise InvalidData(f"the body is not UTF-8 text ({err.reason})") from None
        self._offset += self.pos
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        self._eof = chunk is None
        return True

    def where(self) -> str:
        return f"at character {self._offset + self.pos}"

    def peek(self) -> str:
        """Skip whitespace and return the next character ('' at the end of the input)."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self._fill():
                return self.buf[self.pos : self.pos + 1]

    def expect(self, allowed: str, what: str) -> str:
        char = self.peek()
        if not char or char not in allowed:
            found = repr(char) if char else "the end of the input"
            raise InvalidData(f"expected {what} {self.where()}, found {found}")
        self.pos += 1
        return char

    def value(self) -> Any:
        """Decode the JSON value at the current position, reading more input as needed."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as err:
                if _maybe_truncated(err, len(self.buf)) and self._can_grow():
                    continue
                early = " (the input ends too early)" if err.pos >= len(self.buf) else ""
                self.pos = err.pos
                raise InvalidData(f"invalid JSON {self.where()}: {err.msg}{early}") from None
            except RecursionError:
                raise InvalidData(f"JSON nested too deeply {self.where()}") from None
            if end == len(self.buf) and self._can_grow():
                continue  # a number or literal may go on in the next chunk
            self.pos = end
            return value

    def item(self) -> tuple[Any, bool]:
        """The next item of a list, and whether the list ends after it."""
        try:  # fast path: the item and its separator are complete in the window
            value, end = _DECODER.raw_decode(self.buf, self.pos)
            separator = _SEPARATOR.match(self.buf, end)
            if separator and separator.end() < len(self.buf):
                self.pos = separator.end()
                return value, separator.group(1) == "]"
        except (json.JSONDecodeError, RecursionError):
            pass
        value = self.value()
        last = self.expect(",]", "',' or ']' after a record") == "]"
        self.peek()  # leave the window at the next item, as the fast path does
        return value, last

    def _can_grow(self) -> bool:
        if len(self.buf) - self.pos > self._max_value:
            raise InvalidData(
                f"a value {self.where()} is longer than {self._max_value} characters "
                "or is not valid JSON"
            )
        return self._fill()


def _records_in_list(reader: _Reader) -> Iterator[dict[str, str]]:
    """Yield the checked records of the list whose '[' the reader has just consumed."""
    if reader.peek() == "]":
        reader.pos += 1
        return
    position = 0
    while True:
        record, last = reader.item()
        yield check_record(position, record)
        position += 1
        if last:
            return


def _records_in_object(reader: _Reader) -> Iterator[dict[str, str]]:
    """Yield the records of {"meteorite_landings": [...]}, skipping other members."""
    found = False
    if reader.peek() == "}":
        reader.pos += 1
    else:
        while True:
            key = reader.value()
            if not isinstance(key, str):
                raise InvalidData(f"expected a member name {reader.where()}")
            reader.expect(":", "':'")
            if key == LIST_KEY:
                if found:
                    raise InvalidData(f"{LIST_KEY!r} appears twice")
                found = True
                if reader.peek() != "[":
                    raise InvalidData(f"{LIST_KEY!r} must be a list of records")
                reader.pos += 1
                yield from _records_in_list(reader)
            else:
                reader.value()
            if reader.expect(",}", "',' or '}'") == "}":
                break
    if not found:
        raise InvalidData(f"the object has no {LIST_KEY!r} list")


def iter_records(
    chunks: Iterable[bytes], max_value_chars: int = 1 << 20
) -> Iterator[dict[str, str]]:
    """Yield the checked records of a JSON document given as byte chunks.

    Raises InvalidData as soon as the input is found to be wrong, so a caller that
    writes records as they come must be able to undo (or never commit) them.
    """
    reader = _Reader(chunks, max_value_chars)
    if reader.peek() == "\ufeff":
        reader.pos += 1
    opener = reader.peek()
    if opener == "[":
        reader.pos += 1
        yield from _records_in_list(reader)
    elif opener == "{":
        reader.pos += 1
        yield from _records_in_object(reader)
    elif not opener:
        raise InvalidData("the body is empty: expected a JSON list of records")
    else:
        raise InvalidData(
            f"the body is {_kind(reader.value())}: expected a JSON list of records "
            f"or an object with a {LIST_KEY!r} list"
        )
    if reader.peek():
        raise InvalidData(f"unexpected data after the JSON document {reader.where()}")
