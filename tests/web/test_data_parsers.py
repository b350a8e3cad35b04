"""Property: the two parsers of a POST /data body give the same answers.

records.lua parses a body inside Redis and hands whatever it does not take on to the
app's own parser (records.py); DATA_PARSER=python uses only the latter. For any body,
in any JSON formatting, both must answer the same status and message, leave Redis with
the same keys and values, and give back the same GET /data text.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

import pytest
import redis
import swarmstack_web.store
from conftest import RedisServer, app_config, dump, make_records
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from swarmstack_web import create_app

text = st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from('"\\/\n\t\x00\x7f}{,:[]é☃😀'),
    max_size=8,
)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner), max_leaves=6
)
ids = st.sampled_from(["1", "2", "x/y", "é", "", 'q"uote', "id}"]) | text
names = st.sampled_from(["name", "id", "mass (g)", "GeoLocation", ""]) | text
records = st.builds(
    lambda record_id, fields: {**fields, "id": record_id},
    ids,
    st.dictionaries(names, text, max_size=4),
)
odd_records = st.dictionaries(names, text | scalars, max_size=4) | values
record_lists = st.lists(records, max_size=6) | st.lists(records | odd_records, max_size=4)
documents = (
    record_lists
    | record_lists.map(lambda items: {"meteorite_landings": items})
    | st.builds(
        lambda items, other, first: (
            {"other": other, "meteorite_landings": items}
            if first
            else {"meteorite_landings": items, "other": other}
        ),
        record_lists,
        values,
        st.booleans(),
    )
    | values
)
formats = st.fixed_dictionaries(
    {
        "ensure_ascii": st.booleans(),
        "indent": st.sampled_from([None, 0, 2, "\t"]),
        "separators": st.sampled_from([None, (",", ":"), (" , ", " : ")]),
    }
)


# Bytes put into a body at random: not UTF-8, JSON's specials, raw control characters.
INSERTED = [b"\xff", b"\\", b'"', b"}", b",", b"\t", b"\x01", b"\x7f"]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    document = draw(documents)
    body = json.dumps(document, **draw(formats)).encode()
    body = draw(st.sampled_from([b"", b" \n", b"\t"])) + body + draw(st.sampled_from([b"", b"\n"]))
    change = draw(st.sampled_from(["none", "none", "bom", "cut", "byte"]))
    if change == "bom":
        body = codecs.BOM_UTF8 + body
    elif change == "cut" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif change == "byte":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.sampled_from(INSERTED)) + body[at:]
    return body


def outcome(server: RedisServer, rdb: redis.Redis, parser: str, body: bytes) -> dict[str, Any]:
    rdb.flushall()
    app = create_app(app_config(server, DATA_BATCH_SIZE=2, DATA_PARSER=parser))
    client = app.test_client()
    client.post("/data", json=make_records(3))
    response = client.post("/data", data=body, content_type="application/json")
    return {
        "status": response.status_code,
        "answer": response.get_json(),
        "redis": dump(rdb),
        "listed": client.get("/data").get_data(),
    }


@settings(
    max_examples=300,
    deadline=None,
    database=None,  # leave no .hypothesis/ behind
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies())
def test_both_parsers_answer_the_same(
    redis_server: RedisServer, rdb: redis.Redis, body: bytes
) -> None:
    in_redis = outcome(redis_server, rdb, "redis", body)
    in_python = outcome(redis_server, rdb, "python", body)
    event(f"HTTP {in_redis['status']}")
    assert in_redis == in_python
    if in_redis["status"] == 201:  # and what GET /data gives back is what was sent
        document = json.loads(body.decode("utf-8-sig"))
        sent = document["meteorite_landings"] if isinstance(document, dict) else document
        assert json.loads(in_redis["listed"]) == sent


def test_a_plain_load_never_reaches_the_apps_parser(
    redis_server: RedisServer, rdb: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = make_records(2500)
    records[7]["name"] = 'esc\\aped "quote" \u00e9 \ud83d\ude00 \t tab'
    body = json.dumps({"meteorite_landings": records}, indent=2).encode()
    expected = outcome(redis_server, rdb, "python", body)

    def refuse(*args: object) -> None:
        raise AssertionError("the body went to records.py")

    monkeypatch.setattr(swarmstack_web.store, "iter_records", refuse)
    assert outcome(redis_server, rdb, "redis", body) == expected
    assert expected["status"] == 201
