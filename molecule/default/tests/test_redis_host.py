"""What a user checks on the nodes that run Redis (stack_redis_hosts: the first
manager, as the roles default it, then the next nodes of the swarm, one per
node up to three): the data on disk of each, and Redis refusing a client
without the password, asked from a web container there."""

from __future__ import annotations

import shlex

from swarm import STACK, docker, inventory_group

FIRST = inventory_group("managers")[0]
# The roles' default for stack_redis_hosts, with a replica per node up to three.
REDIS_HOSTS = [FIRST, *(h for h in inventory_group("swarm") if h != FIRST)][:3]
testinfra_hosts = [f"ansible://{name}" for name in REDIS_HOSTS]


def test_data_dir_belongs_to_redis_and_holds_append_only_files(host) -> None:
    home = host.user().home
    data = host.file(f"{home}/data")
    assert data.is_directory
    assert data.uid == 1000
    assert data.mode == 0o700
    with host.sudo():
        listing = host.check_output(f"find {home}/data -name '*.aof' -o -name '*.manifest'")
    assert "appendonly" in listing


def test_redis_and_sentinel_answer_noauth_without_the_password(host) -> None:
    service = f"label=com.docker.swarm.service.name={STACK}_web"
    web = docker(host, "ps", "-q", "--filter", service).split()
    assert web, "no web container runs on this node"
    for name, port in (("redis", 6379), ("sentinel", 26379)):
        probe = (
            f"import socket; s = socket.create_connection(('{name}', {port}), timeout=5); "
            "s.sendall(b'PING\\r\\n'); print(s.recv(200).decode())"
        )
        answer = docker(host, "exec", web[0], "python3", "-c", shlex.quote(probe))
        assert answer.startswith("-NOAUTH"), f"{name}:{port} {answer}"
