"""Record a Docker engine's real answers as test fixtures (GET only).

Usage: python tests/visualizer/record_engine_answers.py SOCKET PREFIX
writes fixtures/PREFIX-info.json and, when the engine is a swarm manager,
PREFIX-nodes.json, PREFIX-services.json and PREFIX-tasks.json (all tasks, any
desired state). The fixtures in git came from docker.io 20.10.24 in throwaway
docker-in-docker nodes: a manager and a worker (vizlab01, vizlab02) running the
services web (3 replicas), agent (global), pending (no node fits) and crashing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from swarmviz.engine import DockerEngine

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def record(socket_path: str, prefix: str) -> list[Path]:
    """Save the engine's answers under fixtures/; return the files written."""
    engine = DockerEngine(socket_path)
    answers = {"info": engine.info()}
    if answers["info"].get("Swarm", {}).get("ControlAvailable"):
        answers |= {
            "nodes": engine.nodes(),
            "services": engine.services(),
            "tasks": engine.get("/tasks"),
        }
    written = []
    for name, answer in answers.items():
        path = FIXTURES / f"{prefix}-{name}.json"
        path.write_text(json.dumps(answer, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    for written_path in record(sys.argv[1], sys.argv[2]):
        print(written_path)
