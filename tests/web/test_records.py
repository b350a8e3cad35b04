"""The streaming reader of record documents, without Redis."""

from __future__ import annotations

import json

import pytest
from conftest import make_records
from swarmstack_web.records import InvalidData, iter_records


def read(body: bytes, chunk: int = 65536) -> list[dict[str, str]]:
    return list(iter_records(body[i : i + chunk] for i in range(0, len(body), chunk)))


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 65536])
def test_any_chunking_gives_the_same_records(chunk: int) -> None:
    records = make_records(20)
    records[3]["name"] = 'Ünïcödé ✓ \\ " \n'
    body = json.dumps({"meteorite_landings": records}, indent=1, ensure_ascii=False).encode()
    assert read(body, chunk) == records


def test_list_and_object_forms_and_extra_members() -> None:
    records = make_records(2)
    assert read(json.dumps(records).encode()) == records
    body = {"meta": {"source": "NASA", "n": [1, 2.5e3, None]}, "meteorite_landings": records}
    assert read(json.dumps(body).encode()) == records
    assert read(b"\xef\xbb\xbf [ ] ") == []
    assert read(b'{"meteorite_landings": []}') == []


def test_records_may_miss_or_add_fields() -> None:
    records = [{"id": "1"}, {"id": "2", "name": "x", "extra": ""}]
    assert read(json.dumps(records).encode()) == records


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty"),
        (b"   ", "the body is empty"),
        (b"nope", "invalid JSON at character 0: Expecting value"),
        (b"42", "the body is a number: expected a JSON list of records"),
        (b'"[]"', "the body is a string: expected a JSON list of records"),
        (b"null", "the body is null: expected a JSON list of records"),
        (b"{}", "has no 'meteorite_landings' list"),
        (b'{"meteorite_landings": {}}', "must be a list of records"),
        (b'{"meteorite_landings": [], "meteorite_landings": []}', "appears twice"),
        (b"[1]", r"records\[0\] is a number, expected an object"),
        (b"[[]]", r"records\[0\] is a list"),
        (b'[{"name": "x"}]', r"records\[0\] has no 'id'"),
        (b'[{"id": 1}]', "'id' must be a non-empty string"),
        (b'[{"id": ""}]', "'id' must be a non-empty string"),
        (b'[{"id": "1", "mass": 21}]', "'mass' is a number, expected a string"),
        (b'[{"id": "1", "mass": NaN}]', "'mass' is a number"),
        (b'[{"id": "1", "geo": null}]', "'geo' is null"),
        (b'[{"id": "1", "geo": {"a": "b"}}]', "'geo' is an object"),
        (b'[{"id": "1"},]', "invalid JSON"),
        (b'[{"id": "1"}', "expected ',' or ']' after a record"),
        (b'[{"id": "1"} {"id": "2"}]', "expected ',' or ']' after a record"),
        (b'[{"id": "1"}] []', "unexpected data after the JSON document"),
        (b'[{"id": "1}]', "invalid JSON"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_bad_documents_say_what_is_wrong(body: bytes, message: str) -> None:
    for chunk in (3, 65536):
        with pytest.raises(InvalidData, match=message):
            read(body, chunk)


def test_a_huge_value_is_refused_without_reading_everything() -> None:
    body = b'[{"id": "1", "blob": "' + b"x" * 3_000_000 + b'"}]'
    with pytest.raises(InvalidData, match="longer than"):
        list(iter_records((body[i : i + 65536] for i in range(0, len(body), 65536)), 1 << 20))


def test_records_come_one_at_a_time() -> None:
    """A bad record late in the input is found after the good ones were handed out."""
    body = json.dumps([*make_records(5), {"id": 6}]).encode()
    seen = []
    with pytest.raises(InvalidData, match=r"records\[5\]"):
        for record in iter_records([body]):
            seen.append(record["id"])
    assert seen == ["1", "2", "3", "4", "5"]
