"""Filters for reading the stack's answers in verify.yml."""

from __future__ import annotations

import re
from typing import Any

_HELLO = (
    r"<h3>Hello {name}!</h3><b>Hostname:</b> (?P<hostname>[^<]+)<br/>"
    r"<b>Visits:</b> (?P<visits>\d+|<i>cannot connect to Redis, counter disabled</i>)"
)


def hello_page(text: str, name: str = "World") -> dict[str, Any]:
    """Split the web page into hostname and visits (an int, or None when disabled).

    Returns {"ok": False} for anything that is not exactly the page.
    """
    match = re.fullmatch(_HELLO.format(name=re.escape(name)), (text or "").strip())
    if not match:
        return {"ok": False, "hostname": None, "visits": None}
    visits = match.group("visits")
    return {
        "ok": True,
        "hostname": match.group("hostname"),
        "visits": int(visits) if visits.isdigit() else None,
    }


def drill_records(count: int, first_id: int = 900001) -> list[dict[str, str]]:
    """Meteorite-like records, every value a string, for the persistence drills."""
    return [
        {
            "name": f"Drill {n}",
            "id": str(first_id + n),
            "recclass": "L5",
            "mass (g)": str(n * 3),
            "reclat": f"{(n % 180) - 90}.5",
            "reclong": f"{(n % 360) - 180}.25",
            "GeoLocation": f"({(n % 180) - 90}.5, {(n % 360) - 180}.25)",
        }
        for n in range(int(count))
    ]


def verify_web_running(
    tasks: list[dict[str, Any]], stack: str, not_on: str = ""
) -> list[dict[str, Any]]:
    """The stack's web tasks that are meant to run and do, on any node but not_on.

    tasks are `docker stack ps` rows as community.docker.docker_stack_task_info gives them.
    """
    return [
        task
        for task in tasks
        if str(task.get("Name", "")).startswith(f"{stack}_web.")
        and str(task.get("DesiredState", "")).lower() == "running"
        and str(task.get("CurrentState", "")).lower().startswith("running")
        and task.get("Node") != not_on
    ]


class FilterModule:
    """verify filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "hello_page": hello_page,
            "drill_records": drill_records,
            "verify_web_running": verify_web_running,
        }
