"""Property: whatever the body, POST /data never answers 500, and a refused body changes
nothing in Redis while an accepted one is exactly what GET /data gives back."""

from __future__ import annotations

import json
from typing import Any

import redis
from conftest import RedisServer, app_config, dump, make_records
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from swarmstack_web import create_app

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
ids = st.sampled_from(["1", "2", "10001", "x/y", "é", ""]) | st.text(min_size=1, max_size=4)
field_names = st.sampled_from(["name", "recclass", "mass (g)", "GeoLocation"]) | st.text(max_size=5)
valid_records = st.builds(
    lambda record_id, fields: {**fields, "id": record_id},
    ids.filter(bool),
    st.dictionaries(field_names, st.text(max_size=10), max_size=4),
)
valid_lists = st.lists(valid_records, max_size=6, unique_by=lambda record: record["id"])
odd_records = st.builds(
    lambda record_id, fields: {**fields, "id": record_id},
    ids | json_scalars,
    st.dictionaries(field_names, st.text(max_size=10) | json_scalars, max_size=4),
)
record_lists = valid_lists | st.lists(odd_records | valid_records | json_values, max_size=6)
documents = (
    record_lists
    | record_lists.map(lambda items: {"meteorite_landings": items})
    | st.dictionaries(st.text(max_size=20), json_values, max_size=3)
    | json_values
)
bodies = documents.map(lambda doc: json.dumps(doc).encode()) | st.binary(max_size=40)


def expected_records(body: bytes) -> list[Any] | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict):
        document = document.get("meteorite_landings")
    return document if isinstance(document, list) else None


@settings(
    max_examples=150,
    deadline=None,
    database=None,  # leave no .hypothesis/ behind
    # too_slow: generation is slower when CI runs the Molecule scenarios alongside.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_post_data_never_fails_badly(
    redis_server: RedisServer, rdb: redis.Redis, body: bytes
) -> None:
    rdb.flushall()
    client = create_app(app_config(redis_server, DATA_BATCH_SIZE=2)).test_client()
    client.post("/data", json=make_records(3))
    client.get("/")
    before = dump(rdb)

    response = client.post("/data", data=body, content_type="application/json")

    event(f"HTTP {response.status_code}")
    assert response.status_code in (201, 400), response.get_data(as_text=True)
    assert response.is_json
    if response.status_code == 400:
        assert response.json["message"]
        assert dump(rdb) == before
    else:
        expected = expected_records(body)
        assert expected is not None
        assert response.json == {"stored": len(expected)}
        assert client.get("/data").json == expected
        assert rdb.get("counter") == "1"
