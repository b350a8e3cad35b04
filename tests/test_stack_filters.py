"""The stack role's filters over `docker stack ps` rows and `docker node inspect` objects.

The rows have the shape community.docker.docker_stack_task_info gives (seen
on the lab); the node objects that of docker_node_info.
"""

from __future__ import annotations

import pytest
from filter_plugins import load_filter_plugin

stack = load_filter_plugin("stack", "stack_tasks.py")


def task(name: str, node: str, current: str = "Running 5 minutes ago", desired: str = "Running"):
    return {"Name": name, "Node": node, "CurrentState": current, "DesiredState": desired}


def node(hostname: str, state: str = "ready", availability: str = "active", labels=None):
    return {
        "Description": {"Hostname": hostname},
        "Status": {"State": state},
        "Spec": {"Availability": availability, "Labels": labels or {}},
    }


TASKS = [
    task("swarmstack_web.1", "vCon01"),
    task("swarmstack_web.2", "vCon01"),
    task("swarmstack_web.3", "vCon01"),
    task("swarmstack_web.4", "vCon02"),
    task("swarmstack_web.5", "vCon02", current="Starting 1 second ago"),
    task("swarmstack_web.1", "vCon03", current="Shutdown 1 minute ago", desired="Shutdown"),
    task("swarmstack_redis.1", "vCon01"),
    task("swarmstack_lb.abc", "vCon03", current="Preparing 2 seconds ago"),
]


def test_running_and_not_running_split_the_tasks_meant_to_run() -> None:
    running = stack.stack_tasks_running(TASKS)
    waiting = stack.stack_tasks_not_running(TASKS)
    assert [t["Name"] for t in running] == [f"swarmstack_web.{n}" for n in (1, 2, 3, 4)] + [
        "swarmstack_redis.1"
    ]
    assert [(t["Name"], t["Node"]) for t in waiting] == [
        ("swarmstack_web.5", "vCon02"),
        ("swarmstack_lb.abc", "vCon03"),
    ]


def test_a_task_is_described_with_its_node_state_and_error() -> None:
    failed = {
        **task("swarmstack_redis.1", ""),
        "CurrentState": "Pending",
        "Error": "no suitable node",
    }
    assert stack.stack_tasks_describe([failed, TASKS[0]]) == [
        "swarmstack_redis.1 on no node: Pending (no suitable node)",
        "swarmstack_web.1 on vCon01: Running 5 minutes ago",
    ]


def test_the_spread_counts_running_tasks_on_nodes_that_take_new_ones() -> None:
    nodes = [node("vCon01"), node("vCon02"), node("vCon03"), node("vCon04", state="down")]
    nodes.append(node("vCon05", availability="drain"))
    spread = stack.stack_service_spread(TASKS, nodes, "swarmstack_web")
    assert spread == {"vCon01": 3, "vCon02": 1, "vCon03": 0}


@pytest.mark.parametrize(
    ("counts", "moves"),
    [
        ({"a": 2, "b": 2, "c": 1}, 0),  # within one: nothing moves
        ({"a": 3, "b": 1, "c": 1}, 1),
        ({"a": 5, "b": 0, "c": 0}, 3),  # 5 over 3 nodes: 2, 2, 1
        ({"a": 4, "b": 4, "c": 0}, 2),  # a node that rejoined
        ({"a": 8}, 0),  # one node: nowhere to move to
        ({}, 0),
    ],
)
def test_spread_moves_are_the_tasks_that_bring_every_node_within_one(counts, moves) -> None:
    assert stack.stack_spread_moves(counts) == moves


def test_only_nodes_whose_label_is_true_are_labelled() -> None:
    nodes = [
        node("vCon01", labels={"swarmstack.redis": "true"}),
        node("vCon02", labels={"swarmstack.redis": "false"}),
        node("vCon03"),
        {"Description": {"Hostname": "vCon04"}, "Spec": {"Labels": None}},
    ]
    assert stack.stack_nodes_labelled(nodes, "swarmstack.redis") == ["vCon01"]


def test_each_node_gets_the_labels_it_lacks_in_one_mapping() -> None:
    nodes = [
        node("vCon01", labels={"swarmstack.redis": "true", "swarmstack.sentinel": "true"}),
        node("vCon02", labels={"swarmstack.redis": "false"}),
        node("vCon03"),
    ]
    wanted = [
        {"label": "swarmstack.redis", "nodes": ["vCon01", "vCon02", "vCon03"]},
        {"label": "swarmstack.sentinel", "nodes": ["vCon01", "vCon03"]},
    ]
    assert stack.stack_labels_missing(nodes, wanted) == {
        "vCon02": {"swarmstack.redis": "true"},
        "vCon03": {"swarmstack.redis": "true", "swarmstack.sentinel": "true"},
    }
    assert stack.stack_labels_missing(nodes, []) == {}
    labelled = [{"label": "swarmstack.redis", "nodes": ["vCon01"]}]
    assert stack.stack_labels_missing(nodes, labelled) == {}
