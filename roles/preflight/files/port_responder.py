#!/usr/bin/env python3
"""Answer on a node's swarm ports for the few seconds preflight probes them.

Start: ``port_responder.py start SPEC`` with SPEC a JSON object
``{"tcp": [2377, 7946], "udp": [7946, 4789], "swarm_tcp": 7946, "lifetime": 120}``.
It binds every port it can, detaches a responder that accepts TCP connections
(closing each as soon as the peer does) and echoes UDP datagrams, and prints
``{"pid": PID, "held": {"tcp": [...], "udp": [...]}}`` once the responder is
ready: the ports that something else already holds (PID is null when that is
every port, and no responder runs). The responder ends on
SIGTERM or after ``lifetime`` seconds, whichever comes first, and leaves no
file behind.

When ``swarm_tcp`` is held the node is already a swarm member (dockerd holds
its gossip port), so no UDP port is bound there: Docker's own sockets
(4789/udp of the kernel's VXLAN, 7946/udp of dockerd) must never lose a
datagram to a probe. Those UDP ports are reported as held.

Stop: ``port_responder.py stop PID`` ends that responder (and only a process
running this script) and waits until it is gone.

Runs on the nodes, with any Python 3.8 or later and nothing but the standard
library.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import signal
import socket
import sys
import time

MARKER = "port_responder.py"


def bind_tcp(port: int) -> socket.socket | None:
    """A listening TCP socket on every address, or None when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Only to rebind over our own earlier connections in TIME_WAIT: Linux still
    # refuses the bind while any socket listens on the port.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("0.0.0.0", port))
        sock.listen(64)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            return None
        raise
    return sock


def bind_udp(port: int) -> socket.socket | None:
    """A UDP socket on every address, or None when the port is taken.

    No SO_REUSEADDR: with it on both sides Linux would let this socket share
    the port with another program's and take some of its datagrams.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("0.0.0.0", port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            return None
        raise
    return sock


def bind_all(spec: dict) -> tuple[list[socket.socket], dict[str, list[int]]]:
    sockets: list[socket.socket] = []
    held: dict[str, list[int]] = {"tcp": [], "udp": []}
    for port in map(int, spec["tcp"]):
        sock = bind_tcp(port)
        if sock is None:
            held["tcp"].append(port)
        else:
            sockets.append(sock)
    in_swarm = int(spec["swarm_tcp"]) in held["tcp"]
    for port in map(int, spec["udp"]):
        sock = None if in_swarm else bind_udp(port)
        if sock is None:
            held["udp"].append(port)
        else:
            sockets.append(sock)
    return sockets, held


def serve(sockets: list[socket.socket], lifetime: float) -> None:
    """Accept and echo until the deadline; SIGTERM ends it at once."""
    deadline = time.monotonic() + lifetime
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listeners = {sock for sock in sockets if sock.type == socket.SOCK_STREAM}
    watched = list(sockets)
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(watched, [], [], min(left, 1.0))
        for sock in ready:
            try:
                answer(sock, listeners, watched)
            except OSError:  # one peer's trouble (a reset, a filtered reply) ends nothing
                if sock not in sockets:
                    watched.remove(sock)
                    sock.close()


def answer(sock: socket.socket, listeners: set, watched: list) -> None:
    """Accept a connection, echo a datagram, or close a connection its peer closed."""
    if sock in listeners:
        conn, _ = sock.accept()
        watched.append(conn)
    elif sock.type == socket.SOCK_DGRAM:
        data, peer = sock.recvfrom(512)
        sock.sendto(data, peer)
    elif not sock.recv(64):
        watched.remove(sock)
        sock.close()


def detach() -> None:
    """Leave the caller's session and its output, so that the caller returns."""
    os.setsid()
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def start(spec: dict) -> int:
    sockets, held = bind_all(spec)
    if not sockets:
        print(json.dumps({"pid": None, "held": held}))
        return 0
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        detach()
        os.write(write_end, b"ready")
        os.close(write_end)
        serve(sockets, float(spec["lifetime"]))
        return 0
    os.close(write_end)
    for sock in sockets:
        sock.close()
    with os.fdopen(read_end, "rb") as ready:
        if ready.read() != b"ready":
            print(json.dumps({"error": "the responder did not start"}))
            return 1
    print(json.dumps({"pid": pid, "held": held}))
    return 0


def running(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone before or while /proc was read
        return False


def stop(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if MARKER.encode() not in cmdline.read():
                print(json.dumps({"stopped": False, "why": "not a responder"}))
                return 0
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ProcessLookupError):
        print(json.dumps({"stopped": False, "why": "already gone"}))
        return 0
    for _ in range(50):
        if not running(pid):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):  # it ended just now
            os.kill(pid, signal.SIGKILL)
    print(json.dumps({"stopped": True}))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "start":
        return start(json.loads(argv[2]))
    if len(argv) == 3 and argv[1] == "stop":
        return stop(int(argv[2]))
    print(f"usage: {MARKER} start SPEC | stop PID", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
