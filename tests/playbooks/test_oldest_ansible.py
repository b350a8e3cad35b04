"""The oldest ansible-core the preflight accepts runs the project's playbooks.

The preflight refuses an ansible-core older than preflight_min_ansible_version
and so promises every later one; .venv holds the newest (controller.txt).
Here a venv of its own (.cache/ansible-oldest) holds the oldest alone,
pinned by requirements/oldest.txt, with the collections of .venv as the
checkout's ansible.cfg names them. It parses every playbook and runs the
preflight's checks of a good inventory, on this machine through the local
connection as test_preflight.py does: the checks that run on the controller
are where a template's types differ most between versions of ansible-core.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from swarmstack_harness import ROOT
from swarmstack_harness.ansible import Run, ansible_env, write_inventory

LOCK = ROOT / "requirements" / "oldest.txt"
VENV = ROOT / ".cache" / "ansible-oldest"
PLAYBOOKS = ["site.yml", *sorted(f"playbooks/{p.name}" for p in ROOT.glob("playbooks/*.yml"))]


def minimum() -> str:
    """preflight_min_ansible_version, from the role's defaults."""
    defaults = yaml.safe_load((ROOT / "roles/preflight/defaults/main.yml").read_text("utf-8"))
    return str(defaults["preflight_min_ansible_version"])


def pinned_core() -> str:
    """The ansible-core version oldest.txt pins."""
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.startswith("ansible-core=="):
            return line.split("==", 1)[1].strip()
    pytest.fail(f"{LOCK} pins no ansible-core")


@pytest.fixture(scope="module")
def oldest() -> Path:
    """The bin directory of a venv with oldest.txt, made again when the lock changes."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    stamp = VENV / ".oldest.sha256"
    if not (stamp.exists() and stamp.read_text(encoding="utf-8") == digest):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        pip = subprocess.run(
            [
                str(VENV / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "--no-compile",
                "-r",
                str(LOCK),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert pip.returncode == 0, f"pip could not install {LOCK}:\n{pip.stdout}{pip.stderr}"
        stamp.write_text(digest, encoding="utf-8")
    return VENV / "bin"


def run(oldest: Path, *argv: str) -> Run:
    proc = subprocess.run(
        [str(oldest / argv[0]), *argv[1:]],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr)


def test_the_lock_pins_the_oldest_version_the_preflight_accepts() -> None:
    assert pinned_core().split(".")[:2] == minimum().split(".")[:2], (
        f"requirements/oldest.txt pins ansible-core {pinned_core()}, the preflight accepts"
        f" {minimum()} and later: make the two agree, then run `make lock`"
    )


def test_the_oldest_ansible_core_parses_every_playbook(oldest: Path) -> None:
    version = run(oldest, "ansible-playbook", "--version")
    assert f"core {pinned_core()}]" in version.output, version.output
    checked = run(oldest, "ansible-playbook", "-i", "inventory/lab", "--syntax-check", *PLAYBOOKS)
    assert checked.rc == 0, checked.output[-3000:]
    for playbook in PLAYBOOKS:
        assert f"playbook: {playbook}" in checked.output, checked.output[-3000:]


def test_the_oldest_ansible_core_passes_the_preflight_of_a_good_inventory(
    oldest: Path, tmp_path: Path
) -> None:
    local = {
        "ansible_connection": "local",
        "ansible_become": False,
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    inventory = write_inventory(
        tmp_path / "hosts.yml",
        {"swarm": {"children": {"managers": {"hosts": {"m1": local}}, "workers": {"hosts": {}}}}},
    )
    checked = run(oldest, "ansible-playbook", "-i", str(inventory), "playbooks/preflight.yml")
    assert checked.rc == 0, checked.output[-3000:]
    assert "changed=0" in checked.flat
