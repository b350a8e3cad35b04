"""Which Redis server starts as the primary when no Sentinel knows one.

redis-node.sh's may_start_first, run by /bin/sh as in the images, with each
server's note (`~/data/.swarmstack-sync`) in a file of its own: after `docker
stack rm` the server that was the primary goes first, whichever node it is
on (at once on the first node, 5 s per rank on the others); a replica that
was in sync only once every "primary" had its turn, and
one that was behind never (but the first node after 120 s). The drills lab
lost four counted visits when the first node's replica, in sync when it
stopped a moment before the primary, started as the primary after a teardown.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "roles" / "stack" / "files" / "redis-node.sh"
NODES = ["vCon01", "vCon02", "vCon03"]


def function(name: str) -> str:
    """A shell function's definition from redis-node.sh, up to its closing brace."""
    text = SCRIPT.read_text()
    match = re.search(rf"^{name}\(\) \{{.*?^\}}$", text, re.S | re.M)
    assert match, f"{name} not in {SCRIPT}"
    return match.group(0)


def earliest(tmp_path: Path, node: str, note: str | None, first: str = "vCon01") -> int | None:
    """The first second of waiting at which the server on `node` may start as the primary."""
    marker = tmp_path / f"{node}.sync"
    if note is not None:
        marker.write_text(note + "\n")
    program = "\n".join(
        [
            "set -eu",
            f"marker={marker}",
            'sync_state() { cat "$marker" 2>/dev/null || echo none; }',
            function("may_start_first"),
            "w=0",
            'while [ "$w" -le 130 ]; do',
            '  if may_start_first "$w"; then echo "$w"; exit 0; fi',
            "  w=$((w + 1))",
            "done",
            "echo never",
        ]
    )
    env = {"NODE_HOSTNAME": node, "REDIS_FIRST_NODE": first, "REDIS_NODES": " ".join(NODES)}
    run = subprocess.run(["/bin/sh", "-c", program], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = run.stdout.strip()
    return None if out == "never" else int(out)


def order(tmp_path: Path, notes: dict[str, str | None], first: str = "vCon01") -> list[str]:
    """The servers in the order they may start as the primary (never: left out)."""
    times = {node: earliest(tmp_path, node, note, first) for node, note in notes.items()}
    return sorted((n for n, t in times.items() if t is not None), key=lambda n: times[n])


def test_the_last_primary_goes_before_a_replica_on_the_first_node(tmp_path: Path) -> None:
    notes = {"vCon01": "in-sync", "vCon02": "primary", "vCon03": "in-sync"}
    assert order(tmp_path, notes) == ["vCon02", "vCon01", "vCon03"]
    # The replica waits long enough for the primary's server to be found first.
    assert earliest(tmp_path, "vCon01", "in-sync") >= earliest(tmp_path, "vCon02", "primary") + 5
    assert earliest(tmp_path, "vCon01", "primary") == 0


def test_a_new_deployment_starts_on_the_first_node_at_once(tmp_path: Path) -> None:
    assert order(tmp_path, dict.fromkeys(NODES)) == ["vCon01"]
    assert earliest(tmp_path, "vCon01", None) == 0
    assert earliest(tmp_path, "vCon02", None, first="vCon02") == 0


def test_two_primary_notes_take_turns_by_rank(tmp_path: Path) -> None:
    # One left by a primary whose node was lost and did not come back before a teardown.
    notes = {"vCon01": "behind", "vCon02": "primary", "vCon03": "primary"}
    times = {node: earliest(tmp_path, node, note) for node, note in notes.items()}
    assert times["vCon02"] < times["vCon03"], times
    assert times["vCon01"] == 120, times


@pytest.mark.parametrize("note", ["behind", None])
def test_a_server_behind_or_without_data_elsewhere_never_starts_first(
    tmp_path: Path, note: str | None
) -> None:
    assert earliest(tmp_path, "vCon03", note) is None
