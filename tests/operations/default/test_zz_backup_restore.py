"""Backups that restore: a backup, every node lost, the stack rebuilt from nothing and restored.

The disaster drill of issue #16, on the live swarm of SWARMSTACK_INVENTORY,
whose nodes the project's lab role made (playbooks/lab.yml): a backup with
playbooks/backup.yml; more visits and a `DELETE /data` after it; then every
node's container destroyed with its disks and made anew by the lab role;
site.yml on the new, empty hosts; restore.yml of the backup. The next visit
must answer the backup's counter + 1, and GET /data the backup's records.
Before the disaster, restore.yml must refuse bad input, changing nothing:
an altered copy of the entry backup.yml made, and a restore not confirmed.
tests/playbooks/test_restore_input.py refuses every other bad entry (none
named, one that does not exist, one truncated, one of another stack...)
without a swarm: restore.yml checks an entry on the controller before it
reaches a host, so those runs would only repeat it here (3.6 s each on an
idle lab).

Named to run last (modules run in file-name order): it rebuilds every node,
and leaves the swarm as site.yml leaves it, with the same inventory, serving
the data it found (put back after the drill).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path

import pytest
from secrets_scan import lab_secrets, leaked
from swarmlab import INVENTORY, MEASURED, STACK, Lab
from swarmstack_harness.http import get_json, request, send_json
from test_failover import redis_roles

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not INVENTORY, reason="needs a live swarm: set SWARMSTACK_INVENTORY"),
]

NOTHING = "Nothing was changed."
RECORDS = [
    {"name": f"Drill {n}", "id": str(900000 + n), "recclass": "L6", "mass (g)": str(10 * n)}
    for n in range(120)
]


def entry_of(backups: Path) -> Path:
    """The only entry backup.yml made in `backups`."""
    entries = list(backups.iterdir())
    assert len(entries) == 1 and entries[0].is_dir(), entries
    return entries[0]


def redis_state(lab: Lab) -> dict[str, str]:
    """Each Redis node's server's role and container: what a refused restore must leave alone."""
    found = lab.module(
        "swarm",
        "community.docker.docker_host_info",
        containers=True,
        containers_filters={"label": f"com.docker.swarm.service.name={STACK}_redis"},
    )
    containers = {host: [c["Id"] for c in got["containers"]] for host, got in found.items()}
    roles = redis_roles(lab, lab.hosts)
    return {host: f"{roles.get(host)} {ids}" for host, ids in containers.items() if ids}


def refused(lab: Lab, message: str, *extra: str) -> None:
    """restore.yml fails with `message` and NOTHING, changing nothing on any host."""
    run = lab.playbook("playbooks/restore.yml", *extra)
    assert run.rc != 0, run.output[-3000:]
    assert message in run.flat and NOTHING.lower() in run.flat.lower(), run.output[-3000:]
    assert set(run.changed().values()) <= {0}, run.changed()


def altered(entry: Path, where: Path) -> Path:
    """A copy of a good entry with its snapshot altered, its size kept."""
    bad = where / "altered"
    shutil.copytree(entry, bad)
    dump = bad / "dump.rdb"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one bit pattern changed
    dump.write_bytes(bytes(data))
    return bad


def test_a_backup_restores_onto_new_hosts_after_every_node_is_lost(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = lab.url(lab.managers[0], "/data")
    kept = get_json(first)
    secrets = lab_secrets(lab)
    backups = tmp_path / "backups"
    try:
        assert send_json(first, "POST", RECORDS) == 201
        lab.visits()
        counter = lab.visits()

        made = lab.playbook("playbooks/backup.yml", "-e", f"backup_dir={backups}")
        assert made.rc == 0, made.output[-3000:]
        entry = entry_of(backups)
        manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
        dump = (entry / "dump.rdb").read_bytes()
        MEASURED.append(f"backup.yml: {made.seconds:.1f} s, {len(dump)} bytes, manifest {manifest}")
        assert manifest["stack"] == STACK
        assert (manifest["counter"], manifest["records"]) == (counter, len(RECORDS)), manifest
        assert manifest["sha256"] == hashlib.sha256(dump).hexdigest()
        assert manifest["bytes"] == len(dump)
        assert manifest["redis_version"].startswith("7."), manifest
        assert manifest["source"].startswith("replica on "), manifest  # the primary keeps serving
        for path in (backups, entry, entry / "dump.rdb", entry / "manifest.json"):
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"
        assert not leaked(secrets, made.output + json.dumps(manifest)), "a secret in the backup"

        # Bad input: a clear message, and the Redis servers untouched.
        before = redis_state(lab)
        bad = altered(entry, tmp_path / "bad")
        refused(lab, "truncated or altered", "-e", f"backup={bad}", "-e", "confirm=yes")
        refused(lab, "Not confirmed; nothing was changed.", "-e", f"backup={entry}")
        assert redis_state(lab) == before
        assert lab.visits() == counter + 1

        # After the backup: more visits, and the records deleted.
        for _ in range(3):
            lab.visits()
        assert send_json(first, "DELETE") == 200
        assert get_json(first) == []

        # Every node lost: containers and disks gone, made anew by the lab role.
        gone = lab.playbook("playbooks/lab.yml", "-e", "lab_state=absent")
        assert gone.rc == 0, gone.output[-3000:]
        # SSH connections of the new hosts only: none kept open to the old ones.
        monkeypatch.setenv("ANSIBLE_SSH_CONTROL_PATH_DIR", str(tmp_path / "cp"))
        runs = {}
        for step in (
            ("playbooks/lab.yml",),
            ("site.yml",),
            ("playbooks/restore.yml", "-e", f"backup={entry}", "-e", "confirm=yes"),
        ):
            runs[step[0]] = run = lab.playbook(*step)
            MEASURED.append(f"after every node was lost, {step[0]}: {run.seconds:.1f} s")
            assert run.rc == 0, run.output[-3000:]
        # The new first manager made a new Redis password: neither it nor the
        # join tokens reach the output of site.yml or restore.yml.
        shown = runs["site.yml"].output + runs["playbooks/restore.yml"].output
        assert not leaked(lab_secrets(lab), shown), "a secret in the output"

        assert request(lab.url(lab.managers[0], "/healthz")).status == 200
        assert lab.visits() == counter + 1
        assert get_json(first) == RECORDS
        roles = redis_roles(lab, lab.hosts)
        assert sorted(roles.values()).count("master") == 1, roles
        MEASURED.append(f"restored onto new hosts: counter {counter} + 1, {len(RECORDS)} records")

        again = lab.playbook("site.yml")
        assert again.rc == 0, again.output[-3000:]
        assert set(again.changed().values()) == {0}, again.changed()
    finally:
        if kept:
            send_json(first, "POST", kept)
        else:
            send_json(first, "DELETE")
