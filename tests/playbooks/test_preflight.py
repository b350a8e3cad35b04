"""site.yml's preflight: bad inventories and settings fail before any change, naming the problem.

The hosts are this machine through the local connection (no SSH, no become),
except where a test wants a host that cannot be reached. Two such hosts are
one machine, which preflight refuses: the checks that need several machines
(the swarm ports, an even number of managers) run on a lab of their own in
test_preflight_ports.py.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {
    "ansible_connection": "local",
    "ansible_become": False,
    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
}


def inventory(managers: list[str], workers: list[str], **host_vars: dict) -> dict:
    def hosts(names: list[str]) -> dict:
        return {name: {**LOCAL, **host_vars.get(name, {})} for name in names}

    return {
        "swarm": {
            "children": {
                "managers": {"hosts": hosts(managers)},
                "workers": {"hosts": hosts(workers)},
            }
        }
    }


def test_a_good_inventory_passes(playbook) -> None:
    """Good settings too, from the inventory and the command line, pass their roles' specs."""
    run = playbook(
        "playbooks/preflight.yml",
        inventory(["m1"], [], m1={"stack_redis_persistence": "rdb", "swarm_listen_port": 2377}),
        "-e",
        "stack_web_port=8081",
    )
    assert run.rc == 0, run.output
    assert "WARNING: " not in run.flat
    assert "changed=0" in run.flat


def test_no_manager_is_refused(playbook) -> None:
    run = playbook("playbooks/preflight.yml", inventory([], ["w1", "w2"]))
    assert run.rc != 0
    assert (
        "The inventory has no host in the group 'managers': a swarm needs at least one manager."
        in run.flat
    )


def test_a_host_in_both_groups_is_refused(playbook) -> None:
    run = playbook("playbooks/preflight.yml", inventory(["m1", "w1"], ["w1", "w2"]))
    assert run.rc != 0
    assert "w1 is in both 'managers' and 'workers'; a node is one or the other." in run.flat


def test_an_unreachable_node_is_named(playbook) -> None:
    unreachable = {
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,
        "ansible_user": "nobody",
        "ansible_ssh_common_args": "-o ConnectTimeout=3",
    }
    run = playbook("playbooks/preflight.yml", inventory(["m1"], ["w1", "w2"], w2=unreachable))
    assert run.rc != 0
    assert "Cannot reach w2:" in run.flat
    assert "Nothing was changed." in run.flat


def test_web_replicas_must_be_a_positive_integer(playbook) -> None:
    for bad in ("0", "-3", "five", "2.5"):
        run = playbook(
            "playbooks/preflight.yml", inventory(["m1"], ["w1"]), "-e", f"web_replicas={bad}"
        )
        assert run.rc != 0, bad
        assert f'web_replicas must be a positive integer such as 5, not "{bad}".' in run.flat, (
            run.flat
        )


def test_redis_replicas_need_a_node_each(playbook) -> None:
    for bad in ("2", "-1"):
        run = playbook(
            "playbooks/preflight.yml",
            inventory(["m1"], ["w1"]),
            "-e",
            f"stack_redis_replicas={bad}",
        )
        assert run.rc != 0, bad
        assert (
            "stack_redis_replicas must be a whole number smaller than the number of swarm nodes "
            "(2: each replica runs on a node of its own, next to the primary), "
            f'not "{bad}". Nothing was changed.'
        ) in run.flat, run.flat
    fits = playbook(
        "playbooks/preflight.yml", inventory(["m1"], ["w1"]), "-e", "stack_redis_replicas=1"
    )
    assert "stack_redis_replicas must be" not in fits.flat, fits.flat


def test_pinned_parts_must_be_on_a_manager(playbook) -> None:
    run = playbook(
        "playbooks/preflight.yml",
        inventory(["m1"], ["w1"]),
        *("-e", "stack_redis_host=w1 stack_visualizer_host=nowhere"),
    )
    assert run.rc != 0
    assert (
        "stack_redis_host is w1, which is not in the group 'managers'; stack_visualizer_host is "
        "nowhere, which is not in the group 'managers': the stack deploys, and runs Redis and the "
        "visualizer, on a manager. Name one of m1. Nothing was changed."
    ) in run.flat, run.flat


def test_remove_node_refuses_a_node_the_stack_is_pinned_to(playbook) -> None:
    """Its pinned tasks could not move away when it is drained."""
    run = playbook(
        "playbooks/remove_node.yml",
        inventory(["m1", "m2", "m3"], ["w1"]),
        *("-e", "node=m2 stack_redis_host=m2 stack_visualizer_host=m2"),
    )
    assert run.rc != 0
    assert (
        "m2 runs Redis and holds its data (stack_redis_host) and the visualizer "
        "(stack_visualizer_host): move them to another manager before removing it. "
        "Nothing was changed."
    ) in run.flat, run.flat
    run = playbook(
        "playbooks/remove_node.yml",
        inventory(["m1", "m2", "m3"], ["w1"]),
        *("-e", "node=m3 stack_visualizer_host=m3"),
    )
    assert (
        "m3 runs the visualizer (stack_visualizer_host): move it to another manager before "
        "removing it. Nothing was changed."
    ) in run.flat, run.flat


def test_site_stops_at_preflight_before_any_change(playbook) -> None:
    run = playbook("site.yml", inventory([], ["w1"]))
    assert run.rc != 0
    assert "has no host in the group 'managers'" in run.flat
    assert "Install and start Docker Engine" not in run.output


def test_an_old_python_on_the_controller_is_refused(playbook, playbook_python) -> None:
    run = playbook(
        "playbooks/preflight.yml",
        inventory(["m1"], []),
        "-e",
        "preflight_min_controller_python_version=3.99",
    )
    assert run.rc != 0
    assert (
        f"The controller runs Python {platform.python_version()} ({playbook_python}), older than"
        " 3.99; make .venv with a newer python3 (`make venv`) and use"
        " .venv/bin/ansible-playbook." in run.flat
    ), run.flat


def test_an_old_python_on_a_node_is_refused(playbook, playbook_python) -> None:
    run = playbook(
        "playbooks/preflight.yml",
        inventory(["m1"], []),
        "-e",
        "preflight_min_node_python_version=3.99",
    )
    assert run.rc != 0
    assert (
        f"m1 runs Python {platform.python_version()} ({playbook_python}); the nodes need"
        " Python 3.99 or later. Install a newer python3 there or point"
        " ansible_python_interpreter at one. Nothing was changed." in run.flat
    ), run.flat


def test_two_hosts_at_one_address_are_refused(playbook) -> None:
    same = {"ansible_host": "198.51.100.5"}
    run = playbook("playbooks/preflight.yml", inventory(["m1"], ["w1", "w2"], m1=same, w2=same))
    assert run.rc != 0
    assert (
        "m1 and w2 are one machine: Ansible reaches both at 198.51.100.5, port 22. A machine can be"
        " one swarm node only; give each host its own ansible_host. Nothing was changed."
        in run.flat
    ), run.flat


def test_the_same_address_on_other_ports_is_two_machines(playbook) -> None:
    """Hosts behind one address with their own SSH ports pass the address check.

    Here they are this machine twice, so the hostname check refuses them next.
    """
    run = playbook(
        "playbooks/preflight.yml",
        inventory(
            ["m1"],
            ["w1"],
            m1={"ansible_host": "198.51.100.5", "ansible_port": 2201},
            w1={"ansible_host": "198.51.100.5", "ansible_port": 2202},
        ),
    )
    assert run.rc != 0
    assert "Ansible reaches both" not in run.flat
    assert f"m1 and w1 are one machine: their hostname is {platform.node()}." in run.flat


def test_two_hosts_with_one_hostname_are_refused(playbook) -> None:
    run = playbook("playbooks/preflight.yml", inventory(["m1"], ["w1"]))
    assert run.rc != 0
    assert (
        f"m1 and w1 are one machine: their hostname is {platform.node()}. A machine can be one"
        " swarm node only, and swarm knows nodes by their hostname; give each node its own."
        " Nothing was changed." in run.flat
    ), run.flat


def spec_choices(role: str, option: str) -> list[str]:
    path = Path(ROOT, "roles", role, "meta", "argument_specs.yml")
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    return spec["argument_specs"]["main"]["options"][option]["choices"]


def test_settings_their_roles_refuse_stop_site_before_any_change(playbook) -> None:
    """One bad value from the inventory, one from the command line."""
    run = playbook(
        "site.yml",
        inventory(["m1"], [], m1={"stack_redis_persistence": "bogus"}),
        "-e",
        "stack_web_port=eighty",
    )
    assert run.rc != 0
    choices = ", ".join(spec_choices("stack", "stack_redis_persistence"))
    assert (
        "Settings of m1 that their roles refuse: role swarmstack_defaults:"
        " argument 'stack_web_port' is of type str and we were unable to convert to int:"
        """ "'eighty'" cannot be converted to an int; role stack:"""
        f" value of stack_redis_persistence must be one of: {choices}, got: bogus."
        " Fix them in the inventory or on the command line; each role's README lists its"
        " settings. Nothing was changed." in run.flat
    ), run.flat
    assert "Install and start Docker Engine" not in run.output


def test_a_redis_password_with_a_control_character_is_refused(playbook) -> None:
    """Refused without showing it; quotes and backslashes pass (the stack role escapes them)."""
    for bad in ("two\nlines-S3CRET", "a\ttab-S3CRET", "bell\x07-S3CRET", "del\x7f-S3CRET"):
        run = playbook(
            "playbooks/preflight.yml",
            inventory(["m1"], []),
            "-e",
            json.dumps({"stack_redis_password": bad}),
        )
        assert run.rc != 0, repr(bad)
        assert (
            "stack_redis_password holds a control character (a newline, a tab or another one)"
            in run.flat
        ), run.flat
        assert "S3CRET" not in run.output
    run = playbook(
        "playbooks/preflight.yml",
        inventory(["m1"], []),
        "-e",
        json.dumps({"stack_redis_password": 'q"uote\\slash päss'}),
    )
    assert run.rc == 0, run.output
