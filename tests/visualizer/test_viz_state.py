"""The visualizer's JSON, built from real answers of a docker.io 20.10 swarm (see fixtures/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from swarmviz.config import Config
from swarmviz.engine import EngineError
from swarmviz.state import build_state, fetch_state, short_image

Answers = Callable[[str], Any]


@pytest.fixture
def state(answers: Answers) -> dict[str, Any]:
    return build_state(
        answers("manager-nodes"), answers("manager-services"), answers("manager-tasks")
    )


def cards(node: dict[str, Any]) -> list[tuple[str, int | None, str]]:
    return [(task["service"], task["slot"], task["state"]) for task in node["tasks"]]


def test_one_entry_per_node_managers_first(state: dict[str, Any]) -> None:
    summary = [
        (n["hostname"], n["role"], n["leader"], n["availability"], n["state"])
        for n in state["nodes"]
    ]
    assert summary == [
        ("vizlab01", "manager", True, "active", "ready"),
        ("vizlab02", "worker", False, "active", "ready"),
    ]
    assert all(node["addr"] and node["id"] for node in state["nodes"])


def test_cards_are_the_tasks_meant_to_run_on_each_node(state: dict[str, Any]) -> None:
    manager, worker = state["nodes"]
    assert cards(manager) == [
        ("agent", None, "running"),
        ("web", 1, "running"),
        ("web", 2, "running"),
    ]
    # No card for crashing.1: it waits to restart (desired state ready); its failed try is off.
    assert cards(worker) == [("agent", None, "running"), ("web", 3, "running")]


def test_a_card_carries_service_slot_state_and_short_image(state: dict[str, Any]) -> None:
    card = state["nodes"][0]["tasks"][1]
    assert set(card) == {"service", "slot", "state", "desired_state", "image", "id"}
    assert card["desired_state"] == "running"
    assert card["image"] == "base:bookworm"


def test_a_task_no_node_can_take_is_listed_as_unassigned(state: dict[str, Any]) -> None:
    assert cards({"tasks": state["unassigned"]}) == [("pending", 1, "pending")]


def test_services_show_wanted_and_running_counts(state: dict[str, Any]) -> None:
    summary = {
        svc["name"]: (svc["mode"], svc["replicas"], svc["running"]) for svc in state["services"]
    }
    assert summary == {
        "agent": ("global", None, 2),
        "crashing": ("replicated", 1, 0),
        "pending": ("replicated", 1, 0),
        "web": ("replicated", 3, 3),
    }


def test_updated_is_an_iso_time(state: dict[str, Any]) -> None:
    assert state["updated"].endswith("+00:00")


@pytest.mark.parametrize(
    ("reference", "short"),
    [
        ("dockersamples/visualizer:stable@sha256:" + "a" * 64, "visualizer:stable"),
        ("registry.example:5000/team/web:1.2", "web:1.2"),
        ("redis:7", "redis:7"),
        ("swarmstack/web", "web"),
    ],
)
def test_short_image_drops_registry_path_and_digest(reference: str, short: str) -> None:
    assert short_image(reference) == short


class RecordedEngine:
    """Gives recorded answers in place of the engine, or raises what a socket error would."""

    socket_path = "/var/run/docker.sock"

    def __init__(self, answers: Answers, prefix: str, error: str = "") -> None:
        self._answers, self._prefix, self._error = answers, prefix, error

    def _answer(self, name: str) -> Any:
        if self._error:
            raise EngineError(self._error)
        return self._answers(f"{self._prefix}-{name}")

    def info(self) -> Any:
        return self._answer("info")

    def nodes(self) -> Any:
        return self._answer("nodes")

    def services(self) -> Any:
        return self._answer("services")

    def running_tasks(self) -> Any:
        return [task for task in self._answer("tasks") if task["DesiredState"] == "running"]


def test_a_manager_gives_the_full_state(answers: Answers) -> None:
    state = fetch_state(RecordedEngine(answers, "manager"))
    assert "error" not in state
    assert [node["hostname"] for node in state["nodes"]] == ["vizlab01", "vizlab02"]


def test_an_engine_outside_a_swarm_is_explained(answers: Answers) -> None:
    state = fetch_state(RecordedEngine(answers, "inactive"))
    assert state["nodes"] == []
    assert "is not part of a swarm (swarm state: inactive)" in state["error"]
    assert "docker swarm init" in state["error"]


def test_a_worker_is_explained(answers: Answers) -> None:
    state = fetch_state(RecordedEngine(answers, "worker"))
    assert "is a swarm worker, not a manager" in state["error"]
    assert "node.role == manager" in state["error"]


def test_an_engine_error_becomes_the_error_field(answers: Answers) -> None:
    state = fetch_state(RecordedEngine(answers, "manager", error="Docker socket /x does not exist"))
    assert state["error"] == "Docker socket /x does not exist"
    assert state["nodes"] == [] and state["services"] == []


def test_config_comes_from_the_environment() -> None:
    env = {
        "PORT": "9090",
        "DOCKER_SOCKET": "/run/d.sock",
        "REFRESH_SECONDS": "5",
        "HOST": "127.0.0.1",
    }
    assert Config.from_env(env) == Config(
        host="127.0.0.1", port=9090, docker_socket="/run/d.sock", refresh_seconds=5
    )
    assert Config.from_env({}) == Config()


@pytest.mark.parametrize(
    ("name", "value"), [("PORT", "eighty"), ("REFRESH_SECONDS", "0"), ("PORT", "-1")]
)
def test_bad_settings_stop_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(SystemExit, match=name):
        Config.from_env({name: value})
