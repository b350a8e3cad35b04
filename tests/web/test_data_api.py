"""The Meteorite Landings API on /data, against a real redis-server."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REPO, RedisServer, app_config, dump, free_port, make_records
from flask import Flask
from flask.testing import FlaskClient
from swarmstack_web import create_app

DATA_FILE = REPO / ".." / "shared" / "data" / "Meteorite_Landings.json"


@pytest.fixture
def loaded(client: FlaskClient, rdb: redis.Redis) -> dict[str, Any]:
    """Some records and a visit count, and the full dump of Redis with them."""
    assert client.post("/data", json=make_records(3)).status_code == 201
    client.get("/")
    return dump(rdb)


def post(client: FlaskClient, body: bytes) -> Any:
    return client.post("/data", data=body, content_type="application/json")


def test_post_get_delete_round_trip(client: FlaskClient, rdb: redis.Redis) -> None:
    records = make_records(5)
    records[1]["name"] = 'Ünïcödé \u2603 "quoted" \\ \n'
    records[2] = {"id": "odd/id with spaces", "extra field": ""}
    response = client.post("/data", json={"meteorite_landings": records})
    assert (response.status_code, response.json) == (201, {"stored": 5})
    listed = client.get("/data")
    assert listed.content_type == "application/json"
    assert listed.json == records  # load order, values exactly as loaded
    assert client.get("/data/2").json == records[1]
    assert client.get("/data/odd/id with spaces").json == records[2]
    assert rdb.hgetall("meteorite:1") == records[0]
    client.get("/")
    deleted = client.delete("/data")
    assert (deleted.status_code, deleted.json) == (200, {"deleted": 5})
    assert client.get("/data").json == []
    assert dump(rdb) == {"counter": ("string", "1", False)}  # nothing else removed


def test_unknown_id_is_404_json(client: FlaskClient, loaded: dict[str, Any]) -> None:
    response = client.get("/data/404")
    assert response.status_code == 404
    assert response.json["message"] == "no record with id '404'"


def test_a_load_replaces_the_previous_one(client: FlaskClient, rdb: redis.Redis) -> None:
    client.post("/data", json=make_records(10))
    second = [{"id": "5", "name": "new five"}, {"id": "20"}]
    assert client.post("/data", json=second).json == {"stored": 2}
    assert client.get("/data").json == second
    assert rdb.hgetall("meteorite:5") == {"id": "5", "name": "new five"}
    assert not rdb.exists("meteorite:1")
    assert client.post("/data", json=[]).json == {"stored": 0}
    assert client.get("/data").json == []
    assert rdb.keys("meteorite*") == []


def test_empty_delete(client: FlaskClient) -> None:
    assert client.delete("/data").json == {"deleted": 0}


BAD_BODIES = {
    "not JSON": (b"not json", 400, "invalid JSON at character 0"),
    "truncated": (b'[{"id": "1"', 400, "the input ends too early"),
    "a number": (b"42", 400, "the body is a number: expected a JSON list"),
    "null": (b"null", 400, "the body is null: expected a JSON list"),
    "object without the list": (b'{"records": []}', 400, "no 'meteorite_landings' list"),
    "list is an object": (b'{"meteorite_landings": {"id": "1"}}', 400, "must be a list"),
    "list of numbers": (b"[1, 2]", 400, "records[0] is a number"),
    "list of lists": (b"[[]]", 400, "records[0] is a list"),
    "no id": (b'[{"id": "9"}, {"name": "x"}]', 400, "records[1] has no 'id'"),
    "numeric id": (b'[{"id": 9}]', 400, "'id' must be a non-empty string"),
    "empty id": (b'[{"id": ""}]', 400, "'id' must be a non-empty string"),
    "number value": (b'[{"id": "9", "mass (g)": 21}]', 400, "'mass (g)' is a number"),
    "null value": (b'[{"id": "9", "reclat": null}]', 400, "'reclat' is null"),
    "nested value": (b'[{"id": "9", "geo": [1, 2]}]', 400, "'geo' is a list"),
    "duplicate ids": (b'[{"id": "7"}, {"id": "8"}, {"id": "7"}]', 400, "duplicate id '7'"),
    "trailing data": (b'[{"id": "9"}] x', 400, "unexpected data after"),
    "not UTF-8": (b'[{"id": "\xff"}]', 400, "not UTF-8"),
    "lone surrogate": (b'[{"id": "9", "name": "\\ud800"}]', 400, "not valid Unicode"),
    "deep nesting": (b"[" * 50_000, 400, "nested too deeply"),
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_bad_input_changes_nothing(
    case: str, client: FlaskClient, rdb: redis.Redis, loaded: dict[str, Any]
) -> None:
    body, status, message = BAD_BODIES[case]
    response = post(client, body)
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert message in response.json["message"]
    assert dump(rdb) == loaded


def test_bad_record_after_many_batches_changes_nothing(
    redis_server: RedisServer, rdb: redis.Redis
) -> None:
    client = create_app(app_config(redis_server, DATA_BATCH_SIZE=100)).test_client()
    client.post("/data", json=make_records(250, start=1000))
    before = dump(rdb)
    late_duplicate = [*make_records(1000), {"id": "3"}]
    response = client.post("/data", json=late_duplicate)
    assert (response.status_code, response.json["message"]) == (
        400,
        "records[1000]: duplicate id '3' (ids must be unique)",
    )
    late_bad = [*make_records(1000), {"id": "x", "mass": 1}]
    assert client.post("/data", json=late_bad).status_code == 400
    assert dump(rdb) == before


def test_body_over_the_limit_is_413(redis_server: RedisServer, rdb: redis.Redis) -> None:
    client = create_app(app_config(redis_server, DATA_MAX_BYTES=1000)).test_client()
    client.post("/data", json=make_records(2))
    before = dump(rdb)
    response = post(client, json.dumps(make_records(50)).encode())
    assert response.status_code == 413
    assert "DATA_MAX_BYTES=1000" in response.json["message"]
    assert dump(rdb) == before


@pytest.mark.parametrize(
    ("method", "path"), [("put", "/data"), ("patch", "/data"), ("delete", "/data/1")]
)
def test_unknown_method_is_405_json(
    client: FlaskClient, rdb: redis.Redis, loaded: dict[str, Any], method: str, path: str
) -> None:
    response = getattr(client, method)(path, json=[])
    assert response.status_code == 405
    assert response.json["error"] == "Method Not Allowed"
    assert dump(rdb) == loaded


def test_no_body_without_data_file_is_400(
    client: FlaskClient, rdb: redis.Redis, loaded: dict[str, Any]
) -> None:
    response = client.post("/data")
    assert response.status_code == 400
    assert "DATA_FILE is not set" in response.json["message"]
    assert dump(rdb) == loaded


def data_file_app(server: RedisServer, path: Path | str) -> Flask:
    return create_app(app_config(server, DATA_FILE=str(path)))


def test_no_body_loads_data_file(
    redis_server: RedisServer, rdb: redis.Redis, tmp_path: Path
) -> None:
    records = make_records(4)
    data_file = tmp_path / "landings.json"
    data_file.write_text(json.dumps({"meteorite_landings": records}), encoding="utf-8")
    client = data_file_app(redis_server, data_file).test_client()
    assert client.post("/data").json == {"stored": 4}
    assert client.get("/data").json == records
    assert client.post("/data", json=records[:1]).json == {"stored": 1}  # a body wins


def test_unreadable_or_bad_data_file(
    redis_server: RedisServer, rdb: redis.Redis, tmp_path: Path
) -> None:
    client = data_file_app(redis_server, tmp_path / "absent.json").test_client()
    client.post("/data", json=make_records(2))
    before = dump(rdb)
    missing = client.post("/data")
    assert missing.status_code == 503
    assert "absent.json cannot be read" in missing.json["message"]
    bad_file = tmp_path / "bad.json"
    bad_file.write_text('[{"id": 1}]', encoding="utf-8")
    bad = data_file_app(redis_server, bad_file).test_client().post("/data")
    assert bad.status_code == 400
    assert dump(rdb) == before


@pytest.mark.skipif(not DATA_FILE.is_file(), reason=f"{DATA_FILE} is absent")
def test_the_real_data_file(redis_server: RedisServer, rdb: redis.Redis) -> None:
    expected = json.loads(DATA_FILE.read_text(encoding="utf-8"))["meteorite_landings"]
    client = data_file_app(redis_server, DATA_FILE).test_client()
    assert client.post("/data").json == {"stored": len(expected)}
    assert client.get("/data").json == expected
    first = expected[0]
    assert client.get(f"/data/{first['id']}").json == first
    body = client.get("/data").get_data()
    assert client.post("/data", data=body, content_type="application/json").status_code == 201
    assert client.get("/data").json == expected


def test_redis_down_is_503_for_data() -> None:
    client = create_app({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": free_port()}).test_client()
    for response in (
        client.post("/data", json=make_records(2)),
        client.get("/data"),
        client.get("/data/1"),
        client.delete("/data"),
    ):
        assert response.status_code == 503
        assert "Redis at 127.0.0.1" in response.json["message"]


class CallbackStream(io.BytesIO):
    """A request body that runs `callback` once half of it has been read."""

    def __init__(self, body: bytes, callback: Any) -> None:
        super().__init__(body)
        self._half, self._callback = len(body) // 2, callback

    def read(self, size: int | None = -1) -> bytes:
        if self._callback and self.tell() >= self._half:
            self._callback()
            self._callback = None
        return super().read(size)


def streamed_post(client: FlaskClient, body: bytes, callback: Any) -> Any:
    return client.post(
        "/data",
        input_stream=CallbackStream(body, callback),
        content_type="application/json",
        headers={"Content-Length": str(len(body))},
    )


def test_concurrent_load_wins_and_the_other_is_409(
    redis_server: RedisServer, rdb: redis.Redis
) -> None:
    app = create_app(app_config(redis_server, DATA_BATCH_SIZE=50))
    client, other = app.test_client(), app.test_client()
    client.post("/data", json=make_records(3))
    winner = [{"id": "w1"}, {"id": "w2"}]
    response = streamed_post(
        client,
        json.dumps(make_records(2000)).encode(),
        lambda: other.post("/data", json=winner),
    )
    assert response.status_code == 409
    assert "retry" in response.json["message"]
    assert client.get("/data").json == winner
    assert sorted(rdb.keys("meteorite*")) == ["meteorite:w1", "meteorite:w2", "meteorite@ids"]


def test_connection_lost_mid_load_changes_nothing(
    redis_server: RedisServer, rdb: redis.Redis
) -> None:
    client = create_app(app_config(redis_server, DATA_BATCH_SIZE=50)).test_client()
    client.post("/data", json=make_records(3))
    before = dump(rdb)
    killer = redis_server.client()
    response = streamed_post(
        client,
        json.dumps(make_records(2000)).encode(),
        lambda: killer.client_kill_filter(_type="normal", skipme=True),
    )
    assert response.status_code == 503
    time.sleep(0.1)
    assert dump(rdb) == before


def test_45716_records_load_in_one_post(client: FlaskClient, rdb: redis.Redis) -> None:
    records = make_records(45_716)
    body = json.dumps({"meteorite_landings": records}).encode()
    response = post(client, body)
    assert response.json == {"stored": 45_716}
    listed = client.get("/data")
    assert listed.is_streamed
    assert listed.json == records
    assert client.delete("/data").json == {"deleted": 45_716}
    assert rdb.dbsize() == 0
