"""site.yml's preflight: bad inventories and settings fail before any change, naming the problem.

The hosts are this machine through the local connection (no SSH, no become),
except where a test wants a host that cannot be reached.
"""

from __future__ import annotations

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
    run = playbook("playbooks/preflight.yml", inventory(["m1"], ["w1", "w2"]))
    assert run.rc == 0, run.output
    assert "WARNING: " not in run.flat


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


def test_an_even_number_of_managers_is_warned_about(playbook) -> None:
    run = playbook("playbooks/preflight.yml", inventory(["m1", "m2"], ["w1"]))
    assert run.rc == 0, run.output
    assert "WARNING: 2 managers." in run.flat
    assert "use an odd number (1, 3 or 5)" in run.flat


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


def test_site_stops_at_preflight_before_any_change(playbook) -> None:
    run = playbook("site.yml", inventory([], ["w1"]))
    assert run.rc != 0
    assert "has no host in the group 'managers'" in run.flat
    assert "Install and start Docker Engine" not in run.output
