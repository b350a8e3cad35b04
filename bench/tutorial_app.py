"""The classic Docker tutorial app, as the baseline of bench/app_bench.py.

A module-level Flask app and Redis client, the same counter page, served by Flask's
development server. POST /data stores records the straightforward way: one Redis round
trip (HSET) per record, after parsing the whole body in memory.

Two additions let bench/system_bench.py run it in place of files/web on the stack: the
password from REDIS_PASSWORD_FILE (the stack's Redis wants one), and GET /healthz for the
stack's HAProxy health checks (it never touches Redis). The GET / path is unchanged.
"""

import os
import socket

from flask import Flask, jsonify, request
from redis import Redis, RedisError


def redis_password() -> str | None:
    """The password in REDIS_PASSWORD_FILE, as the stack gives it; None when unset."""
    path = os.environ.get("REDIS_PASSWORD_FILE", "")
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.read().rstrip("\r\n") or None


redis = Redis(
    host=os.environ.get("REDIS_HOST", "redis"),
    port=int(os.environ.get("REDIS_PORT", "6379")),
    db=0,
    password=redis_password(),
    socket_connect_timeout=2,
    socket_timeout=2,
)
app = Flask(__name__)


@app.route("/")
def hello() -> str:
    try:
        visits = redis.incr("counter")
    except RedisError:
        visits = "<i>cannot connect to Redis, counter disabled</i>"
    html = "<h3>Hello {name}!</h3><b>Hostname:</b> {hostname}<br/><b>Visits:</b> {visits}"
    return html.format(
        name=os.getenv("NAME", "World"), hostname=socket.gethostname(), visits=visits
    )


@app.route("/healthz")
def healthz() -> str:
    return "ok"


@app.route("/data", methods=["POST"])
def load() -> tuple[object, int]:
    body = request.get_json(force=True)
    records = body["meteorite_landings"] if isinstance(body, dict) else body
    for record in records:
        redis.hset(f"meteorite:{record['id']}", mapping=record)
    return jsonify(stored=len(records)), 201


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "80")))
