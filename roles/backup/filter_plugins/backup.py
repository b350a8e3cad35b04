"""Filters of the backup role: which Redis server to take the snapshot from.

The servers are found with community.docker.docker_host_info on each Redis
node, and describe themselves with files/redis-cli.sh --state (JSON).
"""

from __future__ import annotations

import json
from typing import Any

Result = dict[str, Any]


def backup_containers(result: Result) -> dict[str, str]:
    """A node's Redis container from docker_host_info's result on it (looped over the nodes)."""
    container = result["containers"][0]
    return {"node": str(result["item"]), "container": container["Id"], "image": container["Image"]}


def _state(result: Result) -> dict[str, str]:
    try:
        state = json.loads(result.get("stdout") or "")
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def backup_choose_source(results: list[Result]) -> dict[str, str]:
    """The server to snapshot, from the --state answers looped over the servers.

    A replica linked to its primary and not syncing, so that the primary keeps
    serving; else the primary (the only server when Redis is not replicated);
    else nothing ({}): no server answered.
    """
    replicas, primaries = [], []
    for result in results:
        state = _state(result)
        found = {**result["item"], **state}
        in_sync = state.get("link") == "up" and state.get("syncing") == "0"
        if state.get("role") == "slave" and in_sync:
            replicas.append({**found, "kind": "replica"})
        elif state.get("role") == "master":
            primaries.append({**found, "kind": "primary"})
    return (replicas + primaries or [{}])[0]


class FilterModule:
    """Backup filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "backup_containers": backup_containers,
            "backup_choose_source": backup_choose_source,
        }
