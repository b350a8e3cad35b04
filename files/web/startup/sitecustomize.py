"""Run by every python3 of the web image at start-up (PYTHONPATH=/app/startup).

gunicorn runs as PID 1, and PID 1 ignores signals it has no handler for: until gunicorn
installs its own handlers (after importing itself and preloading the app, a few seconds
at 0.1 CPU), docker stop would wait for its SIGKILL and report 137. Until then, SIGTERM
ends the process at once with 0; nothing has been started that needs cleaning up.
"""

import os
import signal


def _exit_now(signum: int, frame: object) -> None:
    os._exit(0)


signal.signal(signal.SIGTERM, _exit_now)
