"""The backup role's filters: which Redis server the snapshot is taken from.

The answers have the shape of community.docker.docker_container_exec looped
over the servers (item: node, container, image) with the stdout of
roles/backup/files/redis-cli.sh --state.
"""

from __future__ import annotations

import json

from filter_plugins import load_filter_plugin

backup = load_filter_plugin("backup", "backup.py")


def answer(node: str, **state: str) -> dict:
    item = {"node": node, "container": f"c-{node}", "image": "swarmstack/redis:x"}
    return {"item": item, "stdout": json.dumps(state) if state else ""}


PRIMARY = {"role": "master", "link": "", "syncing": "", "replicas": "2"}
IN_SYNC = {"role": "slave", "link": "up", "syncing": "0", "replicas": "0"}


def test_a_replica_in_sync_is_chosen_over_the_primary() -> None:
    chosen = backup.backup_choose_source(
        [answer("vCon01", **PRIMARY), answer("vCon02", **IN_SYNC), answer("vCon03", **IN_SYNC)]
    )
    assert (chosen["node"], chosen["kind"]) == ("vCon02", "replica")
    assert chosen["container"] == "c-vCon02"


def test_a_replica_syncing_or_cut_off_is_passed_over() -> None:
    syncing = {**IN_SYNC, "syncing": "1"}
    cut_off = {**IN_SYNC, "link": "down"}
    chosen = backup.backup_choose_source(
        [answer("vCon02", **syncing), answer("vCon03", **cut_off), answer("vCon01", **PRIMARY)]
    )
    assert (chosen["node"], chosen["kind"]) == ("vCon01", "primary")


def test_a_single_redis_is_its_own_source() -> None:
    alone = {"role": "master", "link": "", "syncing": "", "replicas": "0"}
    assert backup.backup_choose_source([answer("vCon01", **alone)])["kind"] == "primary"


def test_no_server_answering_gives_nothing() -> None:
    assert backup.backup_choose_source([answer("vCon01"), answer("vCon02", role="")]) == {}
    assert backup.backup_choose_source([]) == {}


def test_a_node_s_container_comes_from_docker_host_info() -> None:
    result = {"item": "vCon02", "containers": [{"Id": "abc", "Image": "swarmstack/redis:1"}]}
    assert backup.backup_containers(result) == {
        "node": "vCon02",
        "container": "abc",
        "image": "swarmstack/redis:1",
    }
