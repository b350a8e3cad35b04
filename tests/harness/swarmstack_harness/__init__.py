"""What the tests and benchmarks of swarmstack share, in one place.

- ``ansible``: ansible-playbook, ad-hoc modules and ansible-inventory run
  against an inventory the way a user runs them; their outcome as a ``Run``.
- ``lab``: lab nodes of the project's own lab role (playbooks/lab.yml), made
  and removed through it, reached with ``docker exec`` or over SSH.
- ``dind``: a throwaway swarm of docker-in-docker nodes made with the Docker
  SDK, for tests that need a real engine API rather than hosts.
- ``engine``: whether a Docker engine answers here, and the base image.
- ``http``: requests to a node's port, JSON in and out, a free local port.
- ``wait``: waiting for a condition, with a message that says what did not
  happen.

It is installed editable (``make setup``) and finds the checkout from its own
place in it: ``ROOT``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
"""The checkout: site.yml, playbooks/, inventory/ and ansible.cfg are here."""

BIN = Path(sys.executable).parent
"""The directory of this interpreter's ansible-playbook, ansible and ansible-inventory."""


def in_ci() -> bool:
    """Whether this run is CI's, where a missing prerequisite is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
