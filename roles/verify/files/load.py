#!/usr/bin/env python3
"""Concurrent GET / against the nodes, bounded in clients, time and requests.

Prints one JSON object: how many answers of each status, transport errors,
how many 200 pages had a visit count or said the counter is disabled, and
the highest visit count seen, and the longest stretch of time in which no
answer had a count (from the start to the first count, between counts, and
from the last count to the end), and which answers had no count: per URL,
web task (the page's hostname) and what the page said or the status. Only
the URLs given are contacted. SIGTERM ends it early, still printing the
JSON, so it can run in the background for as long as an operation takes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

VISITS = re.compile(rb"<b>Visits:</b> (\d+)")
HOSTNAME = re.compile(rb"<b>Hostname:</b> ([^<\s]+)")
DISABLED = b"counter disabled"
NOT_CONFIRMED = b"no Redis replica confirmed"


def worker(
    urls: list[str],
    deadline: float,
    limit: int,
    out: Counter,
    top: list[int],
    lock: threading.Lock,
    stop: threading.Event,
    pause: float = 0.0,
    counted_at: list[float] | None = None,
    uncounted: Counter | None = None,
    interval: float = 0.0,
) -> None:
    done = 0
    due = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline and done < limit:
        if interval:
            # At most one request per interval: a steady rate, not a flood.
            due = max(due + interval, time.monotonic())
            if stop.wait(due - time.monotonic()):
                break
        url = urls[done % len(urls)]
        done += 1
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                body = answer.read()
                status = str(answer.status)
        except urllib.error.HTTPError as err:
            status, body = str(err.code), b""
        except OSError as err:
            status, body = f"error: {type(err).__name__}", b""
        match = VISITS.search(body)
        with lock:
            out[status] += 1
            if status == "200":
                page = (
                    "counted"
                    if match
                    else "not confirmed"
                    if NOT_CONFIRMED in body
                    else "counter disabled"
                    if DISABLED in body
                    else "other"
                )
                out[f"page: {page}"] += 1
            if not match and uncounted is not None:
                task = HOSTNAME.search(body)
                said = page if status == "200" else status
                uncounted[f"{url} {task.group(1).decode() if task else '-'}: {said}"] += 1
            if match:
                top[0] = max(top[0], int(match.group(1)))
                if counted_at is not None:
                    counted_at.append(time.monotonic())
        if pause and status.startswith("error"):
            stop.wait(pause)  # a node that is down is not hammered


def longest_gap(started: float, ended: float, times: list[float]) -> float:
    """The longest stretch between started, each counted answer and ended."""
    marks = [started, *sorted(times), ended]
    return max(later - earlier for earlier, later in itertools.pairwise(marks))


def rotated(urls: list[str], by: int) -> list[str]:
    """The URLs starting at a different one for each client."""
    by %= len(urls)
    return urls[by:] + urls[:by]


def pause(text: str) -> float:
    """A number of seconds to wait: finite and not negative."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more, not {text!r}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument(
        "--error-pause",
        type=pause,
        default=0.0,
        help="seconds a client waits after a transport error",
    )
    parser.add_argument(
        "--interval",
        type=pause,
        default=0.0,
        help="seconds from one request of a client to its next at the least (0: no wait)",
    )
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    out: Counter = Counter()
    top = [0]
    lock = threading.Lock()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = time.monotonic() + min(args.seconds, 900)
    per_client = max(1, args.max_requests // args.clients)
    counted_at: list[float] = []
    uncounted: Counter = Counter()
    threads = [
        threading.Thread(
            target=worker,
            args=(
                rotated(args.urls, i),
                deadline,
                per_client,
                out,
                top,
                lock,
                stop,
                args.error_pause,
                counted_at,
                uncounted,
                args.interval,
            ),
        )
        for i in range(args.clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.monotonic()
    pages = {key[6:]: out.pop(key) for key in list(out) if key.startswith("page: ")}
    print(
        json.dumps(
            {
                "statuses": dict(out),
                "pages": pages,
                "ok": out["200"],
                "total": sum(out.values()),
                "max_visits": top[0],
                "seconds": round(ended - started, 2),
                "longest_uncounted_s": round(longest_gap(started, ended, counted_at), 2),
                "uncounted": dict(uncounted.most_common(8)),
            }
        )
    )


if __name__ == "__main__":
    main()
