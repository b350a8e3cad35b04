#!/usr/bin/env python3
"""Probe the other nodes' swarm ports from this node, all at once.

``port_probe.py SPEC`` with SPEC a JSON object
``{"timeout": 2, "targets": [{"host": "vCon01", "addr": "172.30.60.11",
"port": 2377, "proto": "tcp"}, ...]}`` prints the targets as a JSON list,
each with ``ok`` and, when not ok, ``error``.

TCP: a connection is accepted within the timeout (by the responder or by
dockerd). UDP: a datagram sent to the responder comes back within the
timeout, sent again every half second as UDP may lose one; whether the port
is filtered or closed, the answer is then "no echo".

Runs on the nodes, with any Python 3.8 or later and nothing but the standard
library.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def probe_tcp(addr: str, port: int, timeout: float) -> str | None:
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return None
    # The nodes may run Python 3.8 or 3.9, where socket.timeout is not yet TimeoutError.
    except socket.timeout:  # noqa: UP041
        return f"no answer in {timeout:g} s"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as error:
        return error.strerror or str(error)


def probe_udp(addr: str, port: int, timeout: float) -> str | None:
    """A datagram echoed back, from whichever address of the node it comes.

    The socket stays unconnected: a node with several addresses may answer
    from another one than it was sent to, which a connected socket drops.
    """
    nonce = os.urandom(16)
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            while (left := deadline - time.monotonic()) > 0:
                sock.sendto(nonce, (addr, port))
                ready, _, _ = select.select([sock], [], [], min(left, 0.5))
                if ready and sock.recv(64) == nonce:
                    return None
        except OSError as error:
            return error.strerror or str(error)
    return f"no echo in {timeout:g} s"


def probe(target: dict, timeout: float) -> dict:
    check = probe_tcp if target["proto"] == "tcp" else probe_udp
    error = check(target["addr"], int(target["port"]), timeout)
    return {**target, "ok": error is None, **({"error": error} if error else {})}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: port_probe.py SPEC", file=sys.stderr)
        return 2
    spec = json.loads(argv[1])
    targets = spec["targets"]
    timeout = float(spec["timeout"])
    with ThreadPoolExecutor(max_workers=max(1, min(64, len(targets)))) as pool:
        results = list(pool.map(lambda target: probe(target, timeout), targets))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
