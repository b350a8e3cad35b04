#!/bin/bash
# The image's HEALTHCHECK: GET /healthz on gunicorn's port (never asks Redis; /
# would count a visit), healthy on a 200. bash's /dev/tcp, not Python: a probe
# costs the task about 20 ms of its 0.1 CPU where "python3 -I -S" took about 40,
# so it can run every 5 s, and a new task is found healthy (and swarm's rolling
# update moves on) about 5 s after it starts instead of 10.
port=${PORT:-8000}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
if ! read -r -t 2 _ code _ <&3; then
    echo "GET /healthz on port $port: no answer in 2 s"
    exit 1
fi
if [ "$code" != 200 ]; then
    echo "GET /healthz on port $port answered ${code:-nothing}, not 200"
    exit 1
fi
