"""restore.yml refuses bad input with a clear message before it touches any host.

The entry is checked on the controller before anything else, so these runs
need no swarm: the inventory's manager is this machine (a local connection),
which a refused run never reaches. The drill on a live swarm
(tests/operations/default/test_zz_backup_restore.py) refuses an altered copy
of a backup.yml entry and a restore not confirmed there, and checks that
Redis was left alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from backup_entry import make_snapshot, write_entry

NOTHING = "Nothing was changed."


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_snapshot(tmp_path_factory.mktemp("source"))


@pytest.fixture
def restore(playbook, playbook_python: str, tmp_path: Path):
    """Run restore.yml with -e confirm=yes; the manager is this machine, reached locally."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": playbook_python}
    inventory = {"swarm": {"children": {"managers": {"hosts": {"vCon01": local}}}}}
    missing_compose = str(tmp_path / "no-compose.yml")

    def run(*extra: str):
        done = playbook(
            "playbooks/restore.yml",
            inventory,
            "-e",
            "confirm=yes",
            "-e",
            f"restore_compose_file={missing_compose}",
            *extra,
        )
        assert done.rc != 0, done.output[-3000:]
        assert NOTHING in done.flat, done.output[-3000:]
        assert set(done.changed().values()) <= {0}, done.changed()
        return done

    return run


def test_no_backup_named(restore) -> None:
    assert "Say which backup to restore: -e backup=PATH" in restore().flat


def test_an_entry_that_does_not_exist(restore, tmp_path: Path) -> None:
    missing = tmp_path / "swarmstack-20260101T000000Z"
    assert f"No backup at {missing}: it does not exist." in restore("-e", f"backup={missing}").flat


def test_an_entry_without_its_snapshot(restore, snapshot: Path, tmp_path: Path) -> None:
    entry = write_entry(snapshot, tmp_path / "backups")
    (entry / "dump.rdb").unlink()
    assert f"No backup at {entry}: it lacks dump.rdb." in restore("-e", f"backup={entry}").flat


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_a_truncated_or_altered_snapshot(restore, snapshot: Path, tmp_path: Path, damage) -> None:
    entry = write_entry(snapshot, tmp_path / "backups")
    dump = entry / "dump.rdb"
    data = bytearray(dump.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    run = restore("-e", f"backup={entry}")
    assert f"{entry}/dump.rdb is not the snapshot its manifest describes" in run.flat
    assert "It was truncated or altered: restore another backup." in run.flat


def test_a_manifest_that_is_not_json(restore, snapshot: Path, tmp_path: Path) -> None:
    entry = write_entry(snapshot, tmp_path / "backups")
    manifest = entry / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8")[:40], encoding="utf-8")
    assert f"{entry}/manifest.json is not JSON" in restore("-e", f"backup={entry}").flat


def test_a_backup_of_another_stack(restore, snapshot: Path, tmp_path: Path) -> None:
    entry = write_entry(snapshot, tmp_path / "backups", stack="otherstack")
    run = restore("-e", f"backup={entry}")
    assert f"{entry} is a backup of the stack otherstack, not of swarmstack" in run.flat


def test_a_good_entry_given_by_its_manifest_needs_the_deployed_stack(
    restore, snapshot: Path, tmp_path: Path
) -> None:
    """The entry passes; the stack check is next, and without site.yml's compose file it stops."""
    entry = write_entry(snapshot, tmp_path / "backups")
    run = restore("-e", f"backup={entry}/manifest.json")
    assert "has no compose file of the stack swarmstack" in run.flat
