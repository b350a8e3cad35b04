"""What backup.yml reads from a snapshot, and how restore.yml lays it out for Redis 7.0.

Against the real redis-server of this machine (Debian's 7.0, as in the
stack's images): roles/backup/files/read-snapshot.sh reads a snapshot as
the throwaway container does; and a snapshot laid out as the restore role
lays it out (its names read from roles/restore/vars/main.yml) is loaded by a
Redis with `appendonly yes` and survives its restart, where a dump.rdb
alone is ignored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from backup_entry import COUNTER, RECORDS, LocalRedis, make_snapshot

ROOT = Path(__file__).resolve().parents[2]
READ_SNAPSHOT = ROOT / "roles" / "backup" / "files" / "read-snapshot.sh"
RESTORE_VARS = yaml.safe_load((ROOT / "roles" / "restore" / "vars" / "main.yml").read_text())


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_snapshot(tmp_path_factory.mktemp("source"))


def read_snapshot(path: Path) -> subprocess.CompletedProcess[str]:
    """The backup role's read-snapshot.sh on the snapshot at path, as the role runs it."""
    with path.open("rb") as data:
        return subprocess.run(
            ["sh", str(READ_SNAPSHOT), "counter", "meteorite@ids"],
            stdin=data,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def test_the_snapshot_is_read_for_the_manifest(snapshot: Path) -> None:
    done = read_snapshot(snapshot)
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    assert (read["counter"], read["records"], read["keys"]) == (COUNTER, RECORDS, RECORDS + 2)
    assert read["redis_version"].startswith("7.") and read["ctime"] > 1_700_000_000


def test_a_truncated_snapshot_is_refused(snapshot: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.rdb"
    cut.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])
    done = read_snapshot(cut)
    assert done.returncode != 0 and "redis-check-rdb refuses the snapshot" in done.stderr


def test_with_appendonly_a_dump_rdb_alone_is_ignored(snapshot: Path, tmp_path: Path) -> None:
    """Why the restore writes an append-only file: Redis 7.0 starts empty here."""
    shutil.copy(snapshot, tmp_path / "dump.rdb")
    redis = LocalRedis(tmp_path, "--appendonly", "yes", "--save", "")
    assert redis.cli("DBSIZE") == "0"
    redis.stop()


@pytest.mark.parametrize("appendonly", ["yes", "no"])
def test_the_restored_layout_loads_and_survives_a_restart(
    snapshot: Path, tmp_path: Path, appendonly: str
) -> None:
    aof_dir = tmp_path / RESTORE_VARS["__restore_aof_dir"]
    if appendonly == "yes":
        aof_dir.mkdir()
        shutil.copy(snapshot, aof_dir / RESTORE_VARS["__restore_aof_base"])
        manifest = f"file {RESTORE_VARS['__restore_aof_base']} seq 1 type b\n"
        (aof_dir / RESTORE_VARS["__restore_aof_manifest"]).write_text(manifest)
    else:
        shutil.copy(snapshot, tmp_path / "dump.rdb")
    options = ("--appendonly", appendonly, "--save", "" if appendonly == "yes" else "1 1")

    redis = LocalRedis(tmp_path, *options)
    assert redis.cli("GET", "counter") == str(COUNTER)
    assert redis.cli("ZCARD", "meteorite@ids") == str(RECORDS)
    assert redis.cli("INCR", "counter") == str(COUNTER + 1)
    redis.stop()

    again = LocalRedis(tmp_path, *options)
    assert again.cli("GET", "counter") == str(COUNTER + 1)
    assert again.cli("ZCARD", "meteorite@ids") == str(RECORDS)
    again.stop()
