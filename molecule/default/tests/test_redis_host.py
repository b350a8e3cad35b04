"""What a user checks on the node that runs Redis (stack_redis_host: the first
manager, as the roles default it): its data on disk, and Redis refusing a
client without the password, asked once, from a web container there."""

from __future__ import annotations

import shlex

from swarm import STACK, docker, inventory_group

testinfra_hosts = [f"ansible://{inventory_group('managers')[0]}"]


def test_data_dir_belongs_to_redis_and_holds_append_only_files(host) -> None:
    home = host.user().home
    data = host.file(f"{home}/data")
    assert data.is_directory
    assert data.uid == 1000
    assert data.mode == 0o700
    with host.sudo():
        listing = host.check_output(f"find {home}/data -name '*.aof' -o -name '*.manifest'")
    assert "appendonly" in listing


def test_redis_answers_noauth_without_the_password(host) -> None:
    service = f"label=com.docker.swarm.service.name={STACK}_web"
    web = docker(host, "ps", "-q", "--filter", service).split()
    assert web, "no web container runs on this node"
    probe = (
        "import socket; s = socket.create_connection(('redis', 6379), timeout=5); "
        "s.sendall(b'GET counter\\r\\n'); print(s.recv(200).decode())"
    )
    answer = docker(host, "exec", web[0], "python3", "-c", shlex.quote(probe))
    assert answer.startswith("-NOAUTH"), answer
