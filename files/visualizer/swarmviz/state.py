"""Turn the engine's answers into the visualizer's own JSON: nodes with their tasks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .engine import DockerEngine, EngineError

JSON = dict[str, Any]


def fetch_state(engine: DockerEngine) -> JSON:
    """Ask the engine and build the state; on failure, a state that carries the error."""
    try:
        _require_manager(engine.info(), engine.socket_path)
        return build_state(engine.nodes(), engine.services(), engine.running_tasks())
    except EngineError as exc:
        return error_state(str(exc))


def _require_manager(info: JSON, socket_path: str) -> None:
    """Raise EngineError unless the engine is an active swarm manager."""
    swarm = info.get("Swarm") or {}
    node_state = swarm.get("LocalNodeState") or "inactive"
    if node_state != "active":
        raise EngineError(
            f"The Docker engine at {socket_path} is not part of a swarm "
            f"(swarm state: {node_state}). Run 'docker swarm init' there, "
            "or point DOCKER_SOCKET at a swarm manager."
        )
    if not swarm.get("ControlAvailable"):
        raise EngineError(
            f"The Docker engine at {socket_path} is a swarm worker, not a manager, "
            "so it cannot list nodes and tasks. Run the visualizer on a manager "
            "(placement constraint node.role == manager)."
        )


def build_state(nodes: list[JSON], services: list[JSON], tasks: list[JSON]) -> JSON:
    """The whole picture from /nodes, /services and /tasks answers."""
    names = {svc["ID"]: svc["Spec"]["Name"] for svc in services}
    running = [task for task in tasks if task.get("DesiredState") == "running"]
    by_node: dict[str, list[JSON]] = {}
    for task in running:
        by_node.setdefault(task.get("NodeID") or "", []).append(task_view(task, names))
    node_views = sorted(
        (node_view(node, by_node.pop(node["ID"], [])) for node in nodes), key=_node_order
    )
    return {
        "nodes": node_views,
        "services": sorted(
            (service_view(svc, running) for svc in services), key=lambda svc: svc["name"]
        ),
        "unassigned": _sorted_tasks([task for left in by_node.values() for task in left]),
        "updated": now_iso(),
    }


def error_state(message: str) -> JSON:
    """A state with no nodes that says why."""
    return {"error": message, "nodes": [], "services": [], "unassigned": [], "updated": now_iso()}


def node_view(node: JSON, tasks: list[JSON]) -> JSON:
    """One node as the page shows it, with its tasks."""
    spec, status = node.get("Spec") or {}, node.get("Status") or {}
    manager = node.get("ManagerStatus") or {}
    return {
        "id": node["ID"],
        "hostname": (node.get("Description") or {}).get("Hostname", ""),
        "role": spec.get("Role", ""),
        "leader": bool(manager.get("Leader")),
        "availability": spec.get("Availability", ""),
        "state": status.get("State", ""),
        "addr": status.get("Addr", ""),
        "tasks": _sorted_tasks(tasks),
    }


def task_view(task: JSON, service_names: dict[str, str]) -> JSON:
    """One task as a card: service, slot, state, image."""
    container = (task.get("Spec") or {}).get("ContainerSpec") or {}
    return {
        "id": task["ID"],
        "service": service_names.get(task.get("ServiceID", ""), task.get("ServiceID", "")),
        "slot": task.get("Slot"),
        "state": (task.get("Status") or {}).get("State", ""),
        "desired_state": task.get("DesiredState", ""),
        "image": short_image(container.get("Image", "")),
    }


def service_view(service: JSON, running_tasks: list[JSON]) -> JSON:
    """One service with its wanted and its running task counts."""
    spec = service["Spec"]
    mode = spec.get("Mode") or {}
    mine = [task for task in running_tasks if task.get("ServiceID") == service["ID"]]
    return {
        "id": service["ID"],
        "name": spec["Name"],
        "mode": "global" if "Global" in mode else "replicated",
        "replicas": (mode.get("Replicated") or {}).get("Replicas"),
        "running": sum(1 for task in mine if (task.get("Status") or {}).get("State") == "running"),
        "image": short_image(
            ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", "")
        ),
    }


def short_image(reference: str) -> str:
    """'registry:5000/team/web:1.2@sha256:...' -> 'web:1.2'."""
    without_digest = reference.split("@", 1)[0]
    return without_digest.rsplit("/", 1)[-1]


def now_iso() -> str:
    """The current time in UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _node_order(node: JSON) -> tuple[bool, str]:
    """Managers first, then by hostname."""
    return (node["role"] != "manager", node["hostname"].lower())


def _sorted_tasks(tasks: list[JSON]) -> list[JSON]:
    """By service name, then slot."""
    return sorted(tasks, key=lambda task: (task["service"], task["slot"] or 0, task["id"]))
