"""Every role documents what it takes: argument specs that match its defaults, and READMEs.

No network and no Docker: the files are read, scripts/role_docs.py runs in --check
mode, and ansible-playbook validates each role's defaults against its argument
specs on the controller alone (a stand-in role with the real defaults and specs
and no tasks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "meta").is_dir())
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def defaults_of(role: str) -> dict[str, Any]:
    return load_yaml(ROOT / "roles" / role / "defaults" / "main.yml") or {}


def options_of(role: str) -> dict[str, Any]:
    spec_file = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    assert spec_file.is_file(), f"roles/{role} has no meta/argument_specs.yml"
    return load_yaml(spec_file)["argument_specs"]["main"].get("options") or {}


def test_every_role_is_found() -> None:
    assert {"stack", "stack_images", "verify", "swarm", "docker_engine"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_an_option_and_every_option_a_default(role: str) -> None:
    defaults, options = defaults_of(role), options_of(role)
    assert not [name for name in defaults if name.startswith("__")], (
        f"roles/{role}/defaults/main.yml holds internal variables; move them to vars/main.yml"
    )
    assert sorted(set(defaults) - set(options)) == [], f"roles/{role}: defaults without an option"
    assert sorted(set(options) - set(defaults)) == [], f"roles/{role}: options without a default"


@pytest.mark.parametrize("role", ROLES)
def test_option_defaults_equal_the_role_defaults(role: str) -> None:
    defaults, options = defaults_of(role), options_of(role)
    wrong = {
        name: (option.get("default"), defaults[name])
        for name, option in options.items()
        if name in defaults
        and not (
            option.get("default") == defaults[name]
            and type(option.get("default")) is type(defaults[name])
        )
    }
    assert wrong == {}, f"roles/{role}: argument_specs default != defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_a_type_and_a_description(role: str) -> None:
    incomplete = [
        name
        for name, option in options_of(role).items()
        if not option.get("type")
        or not option.get("description")
        or (option["type"] == "list" and not option.get("elements"))
    ]
    assert incomplete == [], f"roles/{role}: options without type, description or elements"


def test_role_readmes_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "role_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


INVENTORY = """\
swarm:
  children:
    managers:
      hosts:
        vCon01: {ansible_host: 192.0.2.11}
    workers:
      hosts:
        vCon02: {ansible_host: 192.0.2.12}
"""

# Validation templates the defaults; these vars stand for what the real plays have by then.
PLAY = """\
- name: Validate the roles' defaults against their argument specs
  hosts: vCon01
  connection: local
  gather_facts: false
  vars:
    stack_images_refs: {web: w:1, lb: l:1, visualizer: v:1, redis: r:1}
  tasks:
"""
# A failed validation is rescued so that every role is validated in one run.
ROLE_TASK = """\
    - name: Validate {role}
      block:
        - name: Include {role}
          ansible.builtin.include_role:
            name: {role}
      rescue:
        - name: Go on after {role}
          ansible.builtin.meta: noop
"""


def stand_in_role(role: str, roles_dir: Path) -> None:
    """A role with the real defaults and argument specs and a task that does nothing."""
    stand_in = roles_dir / role
    (stand_in / "tasks").mkdir(parents=True)
    (stand_in / "tasks" / "main.yml").write_text(
        "- name: Do nothing\n  ansible.builtin.meta: noop\n", encoding="utf-8"
    )
    for folder in ("defaults", "meta"):
        (stand_in / folder).symlink_to(ROOT / "roles" / role / folder)


@pytest.fixture(scope="module")
def validations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Ansible's argument validation of every role with its defaults, by role name."""
    work = tmp_path_factory.mktemp("validate")
    for role in ROLES:
        stand_in_role(role, work / "roles")
    (work / "hosts.yml").write_text(INVENTORY, encoding="utf-8")
    play = PLAY + "".join(ROLE_TASK.format(role=role) for role in ROLES)
    (work / "play.yml").write_text(play, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env |= {
        "ANSIBLE_ROLES_PATH": str(work / "roles"),
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
    }
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "hosts.yml", "play.yml"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    host_results = [
        task["hosts"]["vCon01"]
        for play in json.loads(result.stdout)["plays"]
        for task in play["tasks"]
        if "vCon01" in task["hosts"]
    ]
    return {
        answer["validate_args_context"]["name"]: answer
        for answer in host_results
        if answer.get("validate_args_context", {}).get("argument_spec_name") == "main"
    }


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_pass_ansible_argument_validation(
    role: str, validations: dict[str, dict[str, Any]]
) -> None:
    assert role in validations, f"Ansible did not validate the arguments of roles/{role}"
    answer = validations[role]
    assert not answer.get("failed"), answer.get("msg")
