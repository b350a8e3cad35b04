"""Run the visualizer: python3 -m swarmviz (settings from the environment)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from .server import LOG, VisualizerServer, create_app


def main() -> int:
    """Serve until SIGTERM or SIGINT, then exit 0."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    server = create_app()
    _stop_on_signals(server)
    config = server.config
    LOG.info("Serving on %s:%d, reading %s", config.host, config.port, config.docker_socket)
    with server:
        server.serve_forever(poll_interval=0.5)
    LOG.info("Stopped")
    return 0


def _stop_on_signals(server: VisualizerServer) -> None:
    """Make SIGTERM and SIGINT end serve_forever (shutdown must run in another thread)."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        LOG.info("Got %s, stopping", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


if __name__ == "__main__":
    sys.exit(main())
