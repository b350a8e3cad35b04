"""swarmstack-vxlan-sweep deletes the VXLAN interfaces dockerd left behind, and nothing else.

The script the docker_engine role runs on every node, run here as it is, by
/bin/sh, in a network namespace of its own (`unshare --net`, which needs
root, as `make test` runs): real VXLAN interfaces, named as dockerd names
them (vx-<VNI>-<network ID>), made with iproute2. An interface dockerd left
in the host's namespace keeps every later task of its network off the node
("error creating vxlan interface: file exists", moby/libnetwork#1765); one
it is about to move into a sandbox must be left alone, so only one seen on
two looks in a row goes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parents[1] / "roles" / "docker_engine" / "files"
SCRIPT = FILES / "swarmstack-vxlan-sweep"


@pytest.fixture(autouse=True)
def root() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("these tests make network namespaces: they need root, unshare and iproute2")


def in_namespace(program: str, timeout: int = 30) -> subprocess.CompletedProcess:
    """Run a shell program in a new network namespace; the sweeper is $SWEEP."""
    return subprocess.run(
        ["unshare", "--net", "sh", "-euc", program],
        env={**os.environ, "SWEEP": str(SCRIPT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def vxlans(output: str) -> list[str]:
    """The interface names the program listed after its line "left:"."""
    return sorted(output.split("left:", 1)[1].split())


def test_a_vxlan_interface_left_behind_is_deleted_and_said() -> None:
    done = in_namespace(
        """
        ip link add vx-001001-er3xd type vxlan id 4097 dstport 4789
        ip link add vxlan0 type vxlan id 4098 dstport 4789
        ip link add vx-mine type vxlan id 4100 dstport 4789
        ip link add br0 type bridge
        SWEEP_INTERVAL=0.2 sh "$SWEEP" once
        echo left:; ip -o link show | sed -n 's/^[0-9]*: \\([^:@]*\\).*/\\1/p'
        """
    )
    assert done.returncode == 0, done.stderr
    assert "deleted vx-001001-er3xd" in done.stdout
    assert "outside its sandbox" in done.stdout
    # Not dockerd's names (vx-<6 hex>-<5 of the network's ID>): left alone.
    assert vxlans(done.stdout) == ["br0", "lo", "vx-mine", "vxlan0"]


def test_an_interface_made_after_the_first_look_is_left_for_the_next() -> None:
    done = in_namespace(
        """
        ip link add vx-001001-old01 type vxlan id 4097 dstport 4789
        SWEEP_INTERVAL=1.5 sh "$SWEEP" once &
        sleep 0.5
        ip link add vx-001002-new01 type vxlan id 4099 dstport 4789
        wait
        echo left:; ip -o link show type vxlan | sed -n 's/^[0-9]*: \\([^:@]*\\).*/\\1/p'
        """
    )
    assert done.returncode == 0, done.stderr
    assert "deleted vx-001001-old01" in done.stdout
    assert vxlans(done.stdout) == ["vx-001002-new01"]


def test_an_interface_made_again_under_the_same_name_is_not_taken_for_the_old_one() -> None:
    """Deleted and made anew between two looks: a new index, so not the one seen first."""
    done = in_namespace(
        """
        ip link add vx-001001-er3xd type vxlan id 4097 dstport 4789
        SWEEP_INTERVAL=1.5 sh "$SWEEP" once &
        sleep 0.5
        ip link delete vx-001001-er3xd
        ip link add vx-001001-er3xd type vxlan id 4097 dstport 4789
        wait
        echo left:; ip -o link show type vxlan | sed -n 's/^[0-9]*: \\([^:@]*\\).*/\\1/p'
        """
    )
    assert done.returncode == 0, done.stderr
    assert "deleted" not in done.stdout
    assert vxlans(done.stdout) == ["vx-001001-er3xd"]


def test_nothing_left_behind_says_nothing() -> None:
    done = in_namespace('SWEEP_INTERVAL=0.1 sh "$SWEEP" once; echo left:')
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "left:"
    assert done.stderr == ""
