"""verify.yml refuses a drill load interval that is no pause, before it checks or stops anything.

The manager of the inventory is this machine, reached locally: a refused run
stops at the role's first task, before any request to a node.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("value", ["-0.05", "nan"])
def test_a_load_interval_that_is_no_pause_is_refused_first(
    playbook, playbook_python: str, value: str
) -> None:
    local = {"ansible_connection": "local", "ansible_python_interpreter": playbook_python}
    inventory = {"swarm": {"children": {"managers": {"hosts": {"vCon01": local}}}}}
    done = playbook("playbooks/verify.yml", inventory, "-e", f"verify_drill_load_interval={value}")
    assert done.rc != 0, done.output[-3000:]
    refused = "verify_drill_load_interval is the least number of seconds"
    assert refused in done.flat, done.output[-3000:]
    assert "Check every node's web port" not in done.output, done.output[-3000:]
    assert set(done.changed().values()) <= {0}, done.changed()
