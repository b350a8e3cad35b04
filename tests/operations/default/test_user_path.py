"""The user's path: an ordinary account on this machine runs site.yml from its own clone.

The account has no root, no sudo and no Docker (it is not in the docker
group, and nothing here gives it an engine); it gets Python and Ansible with
`make venv` alone and reaches the nodes over SSH with the lab's key and host
keys, copied into its clone's `.lab/` as the README says. The swarm was
deployed by another account (root, through Molecule), so this run is also
the second operator's: once root's site.yml has converged the swarm (the
operations tests before this one leave web spread unevenly on purpose), the
account's run must pass and change nothing, and port 80 must answer on
every node.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from swarmlab import INVENTORY, Lab
from swarmstack_harness import ROOT
from swarmstack_harness.ansible import changed as changed_counts
from swarmstack_harness.http import VISITS

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not INVENTORY, reason="needs a live swarm: set SWARMSTACK_INVENTORY"),
]

USER = "swarmstack-operator"
# What pip needs to reach PyPI from this machine (../shared/LAB.md): the
# host's CA bundle; a user's laptop has its own.
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def as_user(home: Path, *argv: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run argv as the ordinary account, with its own HOME and a plain environment."""
    env = {
        "HOME": str(home),
        "USER": USER,
        "LOGNAME": USER,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PIP_CERT": CA_BUNDLE,
        "REQUESTS_CA_BUNDLE": CA_BUNDLE,
        "ANSIBLE_NOCOLOR": "1",
    }
    return subprocess.run(
        ["runuser", "-u", USER, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def operator() -> Path:
    """The account and its home, made afresh for the module and removed after it."""
    if shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.fail("this test makes an ordinary account: it needs root and runuser")
    subprocess.run(["userdel", "--remove", USER], capture_output=True, check=False)
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    home = Path(pwd.getpwnam(USER).pw_dir)
    yield home
    subprocess.run(["pkill", "-u", USER], capture_output=True, check=False)
    subprocess.run(["userdel", "--remove", USER], capture_output=True, check=False)


def clone_for(home: Path) -> Path:
    """The account's own clone of this checkout's HEAD, owned by it."""
    clone = home / "swarmstack"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["chown", "-R", f"{USER}:{USER}", str(clone)], check=True)
    return clone


def user_inventory(lab: Lab, clone: Path) -> Path:
    """The swarm's hosts as the account's inventory, with the lab's key in its clone's .lab/."""
    # Rendered by Ansible: inventory/lab gives it as a template.
    first = lab.hosts[0]
    state = Path(
        lab.module(first, "ansible.builtin.debug", var="lab_state_dir")[first]["lab_state_dir"]
    )
    own = clone / ".lab" / "operator"
    own.mkdir(parents=True)
    for name in ("id_ed25519", "known_hosts"):
        shutil.copy(state / name, own / name)
    hosts = {host: {"ansible_host": lab.hostvars[host]["ansible_host"]} for host in lab.hosts}
    inventory = {
        "swarm": {
            "children": {
                "managers": {"hosts": {h: hosts[h] for h in lab.managers}},
                "workers": {"hosts": {h: hosts[h] for h in lab.workers}},
            },
            "vars": {
                "ansible_user": lab.hostvars[lab.hosts[0]].get("ansible_user", "ops"),
                "ansible_ssh_private_key_file": str(own / "id_ed25519"),
                "ansible_ssh_common_args": (
                    f"-o UserKnownHostsFile={own}/known_hosts -o StrictHostKeyChecking=yes"
                ),
            },
        }
    }
    path = clone / "inventory" / "operator" / "hosts.yml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    subprocess.run(["chown", "-R", f"{USER}:{USER}", str(clone)], check=True)
    return path


def changed_tasks(output: str) -> list[str]:
    """The tasks of a playbook's output that reported a change, with the hosts."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line.split("]")[0] + "]"
        elif line.startswith("changed:"):
            found.append(f"{task} {line.split()[1]}")
    return found


def failed(output: str, context: int = 12) -> str:
    """What a failed playbook said of its failure, then the tail of its output.

    The failed tasks (with their message, Ansible's indented lines after
    "fatal:") and Ansible's errors come first: a CI summary keeps only a long
    assertion message's start and end.
    """
    lines = output.splitlines()
    picked: list[str] = []
    for at, line in enumerate(lines):
        if line.startswith(("fatal:", "failed:", "ERROR!", "[ERROR]")) or "UNREACHABLE!" in line:
            picked.append(line)
            picked += [
                more for more in lines[at + 1 : at + 1 + context] if more.startswith((" ", "\t"))
            ]
    return "\n".join([*picked, "--- the output's end:", output[-3000:]])


def test_an_ordinary_account_runs_site_yml_and_changes_nothing(lab: Lab, operator: Path) -> None:
    groups = subprocess.run(["id", "-Gn", USER], capture_output=True, text=True, check=True)
    assert not {"docker", "sudo", "root"} & set(groups.stdout.split()), groups.stdout
    clone = clone_for(operator)

    venv = as_user(operator, "make", "venv", cwd=clone)
    assert venv.returncode == 0, venv.stdout[-3000:] + venv.stderr[-3000:]
    # The account has neither root nor an engine: whatever site.yml needs of
    # either happens on the nodes.
    assert as_user(operator, "sudo", "-n", "true", cwd=clone).returncode != 0
    assert as_user(operator, "docker", "info", cwd=clone).returncode != 0

    inventory = user_inventory(lab, clone)
    first = lab.playbook("site.yml")
    assert first.rc == 0, failed(first.output)
    run = as_user(
        operator, ".venv/bin/ansible-playbook", "-i", str(inventory), "site.yml", cwd=clone
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, failed(output)
    changed = changed_counts(output)
    assert set(changed) >= set(lab.hosts), output[-2000:]
    assert set(changed.values()) == {0}, (
        f"the second operator's run changed {changed}: {changed_tasks(output)}"
    )
    for host in lab.hosts:
        with urllib.request.urlopen(lab.url(host), timeout=30) as answer:
            page = answer.read().decode()
        assert VISITS.search(page), f"port 80 on {host}: {page}"
    assert not (operator / ".config" / "swarmstack").exists(), "no credentials on the controller"
