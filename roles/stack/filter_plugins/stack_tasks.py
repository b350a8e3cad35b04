"""Filters over `docker stack ps` rows (community.docker.docker_stack_task_info) and
`docker node inspect` objects (community.docker.docker_node_info)."""

from __future__ import annotations

from typing import Any

Task = dict[str, Any]


def _desired_running(task: Task) -> bool:
    return str(task.get("DesiredState", "")).lower() == "running"


def _running(task: Task) -> bool:
    return str(task.get("CurrentState", "")).lower().startswith("running")


def stack_tasks_running(tasks: list[Task]) -> list[Task]:
    """Tasks meant to run that do."""
    return [t for t in tasks if _desired_running(t) and _running(t)]


def stack_tasks_not_running(tasks: list[Task]) -> list[Task]:
    """Tasks meant to run that do not (yet)."""
    return [t for t in tasks if _desired_running(t) and not _running(t)]


def stack_tasks_describe(tasks: list[Task]) -> list[str]:
    """One line per task: name, node, state and error."""
    lines = []
    for task in tasks:
        error = task.get("Error") or ""
        node = task.get("Node") or "no node"
        line = f"{task.get('Name')} on {node}: {task.get('CurrentState')}"
        lines.append(f"{line} ({error})" if error else line)
    return lines


def stack_service_spread(
    tasks: list[Task], nodes: list[dict[str, Any]], service: str
) -> dict[str, int]:
    """Running tasks of `service` on each node that can take new tasks (ready and active).

    `nodes` are `docker node inspect` objects (community.docker.docker_node_info).
    """
    counts = {
        str(node["Description"]["Hostname"]): 0
        for node in nodes
        if node.get("Status", {}).get("State") == "ready"
        and node.get("Spec", {}).get("Availability") == "active"
    }
    for task in stack_tasks_running(tasks):
        if str(task.get("Name", "")).startswith(f"{service}.") and task.get("Node") in counts:
            counts[task["Node"]] += 1
    return counts


def stack_nodes_labelled(nodes: list[dict[str, Any]], label: str) -> list[str]:
    """Hostnames of the nodes whose label `label` is "true" (docker_node_info objects)."""
    return [
        str(node["Description"]["Hostname"])
        for node in nodes
        if (node.get("Spec", {}).get("Labels") or {}).get(label) == "true"
    ]


def stack_labels_missing(
    nodes: list[dict[str, Any]], wanted: list[dict[str, Any]]
) -> dict[str, dict[str, str]]:
    """Of ``wanted`` (``{label, nodes}`` entries), the labels each node lacks, as
    ``{hostname: {label: "true"}}``: one docker_node call per node sets them all."""
    missing: dict[str, dict[str, str]] = {}
    for entry in wanted:
        have = set(stack_nodes_labelled(nodes, entry["label"]))
        for hostname in entry["nodes"]:
            if hostname not in have:
                missing.setdefault(str(hostname), {})[str(entry["label"])] = "true"
    return missing


def stack_spread_moves(counts: dict[str, int]) -> int:
    """How many tasks must move so that no node runs two more than another (0: none)."""
    values = list(counts.values())
    if len(values) < 2 or max(values) - min(values) <= 1:
        return 0
    low, high = sum(values) // len(values), -(-sum(values) // len(values))
    return max(sum(max(0, v - high) for v in values), sum(max(0, low - v) for v in values))


class FilterModule:
    """Stack task filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "stack_tasks_running": stack_tasks_running,
            "stack_tasks_not_running": stack_tasks_not_running,
            "stack_tasks_describe": stack_tasks_describe,
            "stack_service_spread": stack_service_spread,
            "stack_nodes_labelled": stack_nodes_labelled,
            "stack_labels_missing": stack_labels_missing,
            "stack_spread_moves": stack_spread_moves,
        }
