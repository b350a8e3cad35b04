"""Filters over `docker stack ps` rows (community.docker.docker_stack_task_info)."""

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


class FilterModule:
    """Stack task filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "stack_tasks_running": stack_tasks_running,
            "stack_tasks_not_running": stack_tasks_not_running,
            "stack_tasks_describe": stack_tasks_describe,
        }
