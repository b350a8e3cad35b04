"""The visit counter page and the health probes, against a real redis-server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import RedisServer, app_config, free_port, wait_for
from flask.testing import FlaskClient
from swarmstack_web import create_app

DISABLED = "<i>cannot connect to Redis, counter disabled</i>"


def page(visits: str, name: str = "World") -> str:
    return (
        f"<h3>Hello {name}!</h3><b>Hostname:</b> {socket.gethostname()}<br/><b>Visits:</b> {visits}"
    )


def test_each_visit_counts(client: FlaskClient, rdb: redis.Redis) -> None:
    first, second = client.get("/"), client.get("/")
    assert first.status_code == second.status_code == 200
    assert first.content_type.startswith("text/html")
    assert first.get_data(as_text=True) == page("1")
    assert second.get_data(as_text=True) == page("2")
    assert rdb.get("counter") == "2"


def test_name_and_counter_key_come_from_config(redis_server: RedisServer, rdb: redis.Redis) -> None:
    app = create_app(app_config(redis_server, NAME="<b>Swarm & Co</b>", COUNTER_KEY="hits"))
    body = app.test_client().get("/").get_data(as_text=True)
    assert body == page("1", "&lt;b&gt;Swarm &amp; Co&lt;/b&gt;")
    assert rdb.get("hits") == "1"


def test_name_from_the_environment(
    redis_server: RedisServer, rdb: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAME", "Env")
    app = create_app({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": redis_server.port})
    assert app.test_client().get("/").get_data(as_text=True) == page("1", "Env")


def test_health_never_touches_redis(client: FlaskClient, rdb: redis.Redis) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})
    assert client.get("/readyz").status_code == 200
    assert rdb.dbsize() == 0


def test_redis_refusing_connections() -> None:
    app = create_app({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": free_port(), "NAME": "World"})
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == page(DISABLED)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["status"] == "unavailable"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_redis_not_answering_within_two_seconds(silent_port: int) -> None:
    app = create_app({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": silent_port, "NAME": "World"})
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.get_data(as_text=True) == page(DISABLED)
    # The 2 s socket timeout is used (not 0, not a hang); the upper bound is
    # loose, as a loaded machine is slow (speed lives in the benchmarks).
    assert 1.5 < elapsed < 30
    assert client.get("/readyz").status_code == 503


def test_redis_down_mid_way(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    app = create_app({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": server.port, "NAME": "World"})
    client = app.test_client()
    assert client.get("/").get_data(as_text=True) == page("1")
    server.stop()
    assert client.get("/").get_data(as_text=True) == page(DISABLED)
    assert client.get("/readyz").status_code == 503


def test_password_from_a_file(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="s3cret pass")
    try:
        secret = tmp_path / "redis_password"
        secret.write_text("s3cret pass\n", encoding="utf-8")
        config = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": server.port, "NAME": "World"}
        with_file = create_app({**config, "REDIS_PASSWORD_FILE": str(secret)}).test_client()
        assert with_file.get("/").get_data(as_text=True) == page("1")
        assert with_file.get("/readyz").status_code == 200
        without = create_app({**config, "REDIS_PASSWORD_FILE": ""}).test_client()
        assert without.get("/").get_data(as_text=True) == page(DISABLED)
        assert without.get("/readyz").status_code == 503
    finally:
        server.stop()


def test_unknown_route_and_method_answer_json(client: FlaskClient) -> None:
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json["error"]) == (404, "Not Found")
    not_allowed = client.post("/")
    assert not_allowed.status_code == 405
    assert not_allowed.json["error"] == "Method Not Allowed"
    assert "GET" in not_allowed.headers["Allow"]


def refusals(rdb: redis.Redis) -> int:
    """How many writes Redis refused for want of replicas (INFO errorstats)."""
    stat = rdb.info("errorstats").get("errorstat_NOREPLICAS", "count=0")  # redis-py: "count=N"
    return int(str(stat).removeprefix("count="))


def test_a_refused_visit_is_tried_again_and_counted_once(
    redis_server: RedisServer, rdb: redis.Redis
) -> None:
    # NOREPLICAS: Redis did not run the INCR, so asking again cannot count it twice.
    rdb.config_set("min-replicas-to-write", 1)
    client = create_app(app_config(redis_server, REDIS_RETRY_PAUSE=1.0)).test_client()

    def replica_back() -> None:
        wait_for(lambda: refusals(rdb) >= 1, 10, "the first try refused")
        rdb.config_set("min-replicas-to-write", 0)

    helper = threading.Thread(target=replica_back)
    helper.start()
    try:
        answer = client.get("/")
    finally:
        helper.join()
        rdb.config_set("min-replicas-to-write", 0)
    assert answer.get_data(as_text=True) == page("1")
    assert rdb.get("counter") == "1"


def test_a_visit_refused_every_time_shows_no_count(
    redis_server: RedisServer, rdb: redis.Redis
) -> None:
    rdb.config_set("min-replicas-to-write", 1)
    before = refusals(rdb)
    try:
        client = create_app(app_config(redis_server, REDIS_RETRY_PAUSE=0)).test_client()
        answer = client.get("/")
    finally:
        rdb.config_set("min-replicas-to-write", 0)
    assert answer.status_code == 200
    assert answer.get_data(as_text=True) == page(DISABLED)
    assert refusals(rdb) - before == 6  # REDIS_VISIT_TRIES
    assert rdb.get("counter") is None


def test_get_and_head_of_the_page_answer_alike(client: FlaskClient, rdb: redis.Redis) -> None:
    # GET / is answered without Flask's request handling (fastpath.CounterPage),
    # HEAD / through Flask's view: the same page, headers and counting.
    got = client.get("/")
    head = client.head("/")
    assert (got.status_code, head.status_code) == (200, 200)
    assert got.headers["Content-Type"] == head.headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(got.headers["Content-Length"]) == len(got.get_data()) == len(page("1").encode())
    assert int(head.headers["Content-Length"]) == len(page("2").encode())
    assert head.get_data() == b""
    assert rdb.get("counter") == "2"
    assert client.get("/?from=a-link").get_data(as_text=True) == page("3")


def test_an_unexpected_error_on_the_page_answers_json_500(
    client: FlaskClient, rdb: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    from swarmstack_web import site

    def broken(state: object) -> str:
        raise ValueError("a bug in counting")

    monkeypatch.setattr(site, "count_visit", broken)
    response = client.get("/")
    assert response.status_code == 500
    assert response.json == {
        "error": "Internal Server Error",
        "message": "unexpected error, see the server log",
        "status": 500,
    }
    assert "a bug in counting" in caplog.text
    assert rdb.get("counter") is None
