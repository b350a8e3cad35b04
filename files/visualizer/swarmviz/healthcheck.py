"""The image's HEALTHCHECK: python3 -m swarmviz.healthcheck exits 0 when /healthz answers 200."""

from __future__ import annotations

import sys
import urllib.request

from .config import Config


def main() -> int:
    """GET /healthz on the local port; 0 when it answers 200, else 1 with the reason."""
    url = f"http://127.0.0.1:{Config.from_env().port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
