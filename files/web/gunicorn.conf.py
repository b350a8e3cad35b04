"""Gunicorn settings of the web image; PORT, WEB_WORKERS and WEB_THREADS override them.

One gthread worker with a few threads: at 0.1 CPU the work is CPU bound, so more
processes add memory (each ~20 MB) and no throughput; threads keep slow clients and
Redis round trips from blocking each other. See bench/app_bench.py for the figures.
"""

import gc
import logging
import os
from typing import Any

wsgi_app = "swarmstack_web:create_app()"
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
worker_class = "gunicorn.workers.gthread.ThreadWorker"
workers = int(os.environ.get("WEB_WORKERS", "1"))
threads = int(os.environ.get("WEB_THREADS", "4"))
preload_app = True  # build the app once in the master: a broken config stops the start
graceful_timeout = 1  # docker stop -> exit 0 well within 2 s
timeout = 60
keepalive = 5
worker_tmp_dir = "/dev/shm"  # heartbeat file in memory, works with a read-only root
accesslog = os.environ.get("ACCESS_LOG") or None  # e.g. ACCESS_LOG=- for stdout
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


def pre_fork(server: object, worker: object) -> None:
    """Keep the preloaded objects out of the garbage collector's reach, so that the
    worker shares their memory pages with the master instead of copying them."""
    gc.freeze()


def worker_exit(server: object, worker: Any) -> None:
    """Leave at once when a booted worker stops: tearing the interpreter down would write
    to every page it shares with the master, copying ~25 MB at the worst moment."""
    if worker.booted:
        logging.shutdown()
        os._exit(0)


def _date_header_once_a_second() -> None:
    """gunicorn formats the Date header anew for every response (email.utils, about a
    seventh of GET /'s CPU in the worker); it changes once a second, so format it once a
    second, as nginx and HAProxy do."""
    import time

    from gunicorn import util

    formatted = util.http_date

    second, text = -1, ""

    def http_date(timestamp: float | None = None) -> str:
        nonlocal second, text
        if timestamp is not None:
            return formatted(timestamp)
        now = int(time.time())
        if now != second:
            second, text = now, formatted(now)
        return text

    util.http_date = http_date


_date_header_once_a_second()
