"""Operations on a live swarm, each under concurrent requests to the nodes' web port.

Needs a swarm that site.yml has deployed (with 5 web replicas) and the path
of its inventory in SWARMSTACK_INVENTORY; the plain `pytest` run skips it:

    SWARMSTACK_INVENTORY=inventory/lab-ha pytest -m lab tests/operations/drills

The tests change the swarm (scale, teardown, a node removed and back) and
leave it as they found it: 5 replicas, every node in, the data as it was.
They run in file order; the last one stops a manager's engine for a moment.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from secrets_scan import lab_secrets, leaked
from swarmlab import INVENTORY, Lab
from swarmstack_harness.http import get_json, send_json

if not INVENTORY:
    pytest.skip(
        "SWARMSTACK_INVENTORY is not set: these tests need the inventory of a live swarm "
        "deployed by site.yml (e.g. SWARMSTACK_INVENTORY=inventory/lab-ha)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.lab
NOTHING = "Nothing was changed."


def assert_counted(step) -> None:
    """No failed request, and the counter rose by exactly the answers 200."""
    assert step.failed == 0, step.summary()
    assert step.load["ok"] > 0, step.summary()
    assert step.delta == step.load["ok"], step.summary()


def test_scale_up_down_and_back_loses_no_request(lab: Lab) -> None:
    assert len(lab.running("web")) == 5, "the swarm must run site.yml's 5 web replicas first"
    urls = [lab.url(h) for h in lab.hosts]
    for replicas in (8, 5):  # up, then down to where it was
        step = lab.under_load(
            f"scale to {replicas}", urls, ("playbooks/scale.yml", "-e", f"web_replicas={replicas}")
        )
        assert_counted(step)
        assert len(lab.running("web")) == replicas


# The files the stack role writes on the first manager, in its user's ~/swarmstack.
STACK_FILES = ("haproxy.cfg", "redis-node.sh", "docker-compose.yml")
IN_STACK_DIR = 'cd "$(getent passwd "$SUDO_USER" | cut -d: -f6)/swarmstack"'


def stack_files(lab: Lab) -> str:
    """Each of the stack's files on the first manager: its mode, owner and SHA-1, or missing."""
    listing = " ".join(STACK_FILES)
    return lab.manager(
        "ansible.builtin.shell",
        cmd=f"{IN_STACK_DIR} && for f in {listing}; do if [ -f $f ]; "
        'then echo "$f $(stat -c \'%a %U\' $f) $(sha1sum < $f)"; else echo "$f missing"; fi; done',
    )["stdout"]


def test_stack_yml_puts_back_the_stack_files_changed_by_hand(lab: Lab) -> None:
    # The stack role reads the directory once and writes only the files
    # that differ: each kind of difference must still be written back.
    before = stack_files(lab)
    assert "missing" not in before, before
    lab.manager(
        "ansible.builtin.shell",
        cmd=f"{IN_STACK_DIR} && echo '# changed by hand' >> haproxy.cfg"
        " && chmod 600 docker-compose.yml && rm redis-node.sh",
    )
    run = lab.playbook("playbooks/stack.yml")
    assert run.rc == 0, run.output[-3000:]
    assert stack_files(lab) == before
    # The three files, and nothing else: the stack runs the same configs.
    assert run.changed() == {h: 3 if h == lab.managers[0] else 0 for h in lab.hosts}, run.changed()


def test_teardown_then_site_brings_back_the_counter_and_the_data(lab: Lab) -> None:
    first = lab.url(lab.managers[0], "/data")
    kept = get_json(first)
    records = [
        {"name": f"Ops {n}", "id": str(700000 + n), "recclass": "H6", "mass (g)": str(n)}
        for n in range(200)
    ]
    assert send_json(first, "POST", records) == 201
    loaded = get_json(first)
    try:
        step = lab.under_load(
            "teardown + site.yml",
            [lab.url(h) for h in lab.hosts],
            ("playbooks/teardown.yml", "-e", "confirm=yes"),
            ("site.yml",),
        )
        counted = step.load.get("pages", {}).get("counted", step.load["ok"])
        # Requests fail while the stack is down; every visit acknowledged
        # before or after was kept, and the counter went on from there.
        assert step.before + counted <= step.after - 1 <= step.before + step.load["total"], (
            step.summary()
        )
        assert step.load["max_visits"] < step.after, step.summary()
        assert get_json(first) == loaded
        assert len(lab.running("web")) == 5
        assert_counted(lab.steady("after teardown + site.yml"))
    finally:
        if kept:
            send_json(first, "POST", kept)
        else:
            send_json(first, "DELETE")


def test_a_removed_node_rejoins_and_web_spreads_back(lab: Lab) -> None:
    assert lab.workers, "the inventory needs a worker to remove"
    node = lab.workers[-1]
    name = lab.hostname[node]
    others = [lab.url(h) for h in lab.hosts if h != node]

    secrets = lab_secrets(lab)
    removed = lab.under_load(
        f"remove_node {node}", others, ("playbooks/remove_node.yml", "-e", f"node={node}", "-vvv")
    )
    assert_counted(removed)
    assert name not in [n["Description"]["Hostname"] for n in lab.nodes()]
    state = lab.module(node, "community.docker.docker_host_info")[node]
    assert state["host_info"]["Swarm"]["LocalNodeState"] == "inactive"
    web = lab.running("web")
    assert len(web) == 5 and name not in web, web

    again = lab.playbook("playbooks/remove_node.yml", "-e", f"node={node}")
    assert again.rc == 0, again.output[-3000:]
    assert set(again.changed().values()) == {0}, again.changed()

    # The rejoin reads the join tokens and joins with one; at -vvv neither
    # they nor the Redis password may appear in any output.
    back = lab.under_load("site.yml -vvv after remove_node", others, ("site.yml", "-vvv"))
    assert_counted(back)
    for run in removed.runs + back.runs:
        assert not leaked(secrets, run.output), f"in -vvv output: {leaked(secrets, run.output)}"
    entry = [n for n in lab.nodes() if n["Description"]["Hostname"] == name]
    assert [(n["Status"]["State"], n["Spec"]["Availability"]) for n in entry] == [
        ("ready", "active")
    ]
    web = lab.running("web")
    spread = [web.count(lab.hostname[h]) for h in lab.hosts]
    assert name in web and max(spread) - min(spread) <= 1, web
    assert_counted(lab.steady("every node after the rejoin"))


def bad_input(lab: Lab, *extra: str, inventory: str | None = None):
    run = lab.playbook("playbooks/remove_node.yml", *extra, inventory=inventory)
    assert run.rc != 0, run.output[-2000:]
    assert NOTHING in run.flat
    return run


def snapshot(lab: Lab) -> list[tuple[str, str, str, str]]:
    return sorted(
        (n["ID"], n["Spec"]["Role"], n["Spec"]["Availability"], n["Status"]["State"])
        for n in lab.nodes()
    )


def one_manager_inventory(lab: Lab, path: Path) -> str:
    """The same hosts with only the first manager left in 'managers'."""
    groups = {
        "managers": {"hosts": {lab.managers[0]: lab.hostvars[lab.managers[0]]}},
        "workers": {"hosts": {h: lab.hostvars[h] for h in lab.workers}},
    }
    path.write_text(yaml.safe_dump({"swarm": {"children": groups}}), encoding="utf-8")
    return str(path)


def test_remove_node_refuses_bad_input_and_changes_nothing(lab: Lab, tmp_path: Path) -> None:
    before = snapshot(lab)
    hosts = ", ".join(lab.hosts)
    first = lab.managers[0]

    run = bad_input(lab)
    assert f"Say which node to remove: -e node=NAME, one of {hosts}. {NOTHING}" in run.flat

    run = bad_input(lab, "-e", "node=vCon99")
    assert f"vCon99 is not a host of the inventory's swarm group ({hosts}). {NOTHING}" in run.flat

    run = bad_input(lab, "-e", f"node={first}")
    assert (
        f"{first} is the first manager: site.yml forms the swarm from it (and by default"
        in run.flat
    )

    alone = one_manager_inventory(lab, tmp_path / "one-manager.yml")
    run = bad_input(lab, "-e", f"node={first}", inventory=alone)
    assert (
        f"{first} is the only manager: a swarm cannot run without one. Add a manager first."
        in run.flat
    )
    assert snapshot(lab) == before


def test_remove_node_refuses_to_break_the_quorum(lab: Lab) -> None:
    if len(lab.managers) < 3:
        pytest.skip("needs 3 managers")
    target, lost = lab.managers[1], lab.managers[2]
    before = snapshot(lab)
    lab.module(lost, "ansible.builtin.systemd_service", name="docker.socket", state="stopped")
    lab.module(lost, "ansible.builtin.systemd_service", name="docker.service", state="stopped")
    try:
        deadline = time.monotonic() + 60
        while not any(
            n.get("ManagerStatus", {}).get("Reachability") == "unreachable" for n in lab.nodes()
        ):
            assert time.monotonic() < deadline, f"{lost} still shows as reachable"
            time.sleep(2)
        run = bad_input(lab, "-e", f"node={target}")
        assert (
            f"Removing {target} would break the quorum: 2 managers would remain, of which only 1 "
            f"({lab.hostname[lab.managers[0]]}) is reachable, and a swarm needs a majority (2). "
            f"Bring {lab.hostname[lost]} back first. {NOTHING}"
        ) in run.flat
    finally:
        lab.module(lost, "ansible.builtin.systemd_service", name="docker.service", state="started")
    deadline = time.monotonic() + 120
    while snapshot(lab) != before or len(lab.running("lb")) < len(lab.hosts):
        assert time.monotonic() < deadline, json.dumps(snapshot(lab))
        time.sleep(3)
