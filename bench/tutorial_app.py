"""The classic Docker tutorial app, as the baseline of bench/app_bench.py.

A module-level Flask app and Redis client, the same counter page, served by Flask's
development server. POST /data stores records the straightforward way: one Redis round
trip (HSET) per record, after parsing the whole body in memory.
"""

import os
import socket

from flask import Flask, jsonify, request
from redis import Redis, RedisError

redis = Redis(
    host=os.environ.get("REDIS_HOST", "redis"),
    port=int(os.environ.get("REDIS_PORT", "6379")),
    db=0,
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


@app.route("/data", methods=["POST"])
def load() -> tuple[object, int]:
    body = request.get_json(force=True)
    records = body["meteorite_landings"] if isinstance(body, dict) else body
    for record in records:
        redis.hset(f"meteorite:{record['id']}", mapping=record)
    return jsonify(stored=len(records)), 201


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "80")))
