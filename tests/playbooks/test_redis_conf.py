"""The stack's redis.conf secret, rendered by Ansible from the role's template and read by a real
redis-server: the password web sends must be the one Redis requires, whatever its characters."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "roles" / "stack" / "templates" / "redis.conf.j2"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

PASSWORDS = [
    'with "double" quotes',
    "back\\slash and a trailing one\\",
    '\\" an escaped quote, as a shell would write it',
    "it's 'single' quoted",
    "\\x41 is not an escape here",
    "päss wörd ✓",
    "  spaces around  ",
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, playbook_file) -> dict[str, Path]:
    """Every password's redis.conf, rendered by Ansible with the role's template in one run."""
    where = tmp_path_factory.mktemp("redis-conf")
    confs = {password: where / f"redis-{n}.conf" for n, password in enumerate(PASSWORDS)}
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "tasks": [
                {
                    "name": "Render the stack role's redis.conf",
                    "ansible.builtin.template": {"src": str(TEMPLATE), "dest": "{{ item.dest }}"},
                    "vars": {"redis_conf_password": "{{ item.password }}"},
                    "loop": [{"password": p, "dest": str(c)} for p, c in confs.items()],
                }
            ],
        }
    ]
    playbook = where / "render.yml"
    playbook.write_text(json.dumps(play), encoding="utf-8")
    inventory = where / "hosts.ini"
    inventory.write_text("localhost\n", encoding="utf-8")
    run = playbook_file(str(playbook), inventory)
    assert run.rc == 0, run.output
    return confs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_with(tmp_path: Path) -> Iterator:
    """Start redis-server on a rendered configuration; return its port."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    processes: list[subprocess.Popen] = []

    def start(conf: Path) -> int:
        port = free_port()
        args = [REDIS_SERVER, str(conf), "--bind", "127.0.0.1", "--port", str(port)]
        args += ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                pytest.fail(f"redis-server refused {conf}: {output}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return port
            time.sleep(0.05)
        pytest.fail(f"redis-server on {conf} did not listen within 10 s")

    yield start
    for process in processes:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.parametrize("password", PASSWORDS)
def test_redis_requires_exactly_the_password_web_sends(
    password: str, rendered: dict[str, Path], redis_with
) -> None:
    port = redis_with(rendered[password])

    assert redis.Redis(port=port, password=password).ping()
    near_misses = {password + "x", password.replace("\\", ""), password.replace('"', "")}
    for wrong in near_misses - {password}:
        with pytest.raises(redis.ResponseError, match="WRONGPASS"):
            redis.Redis(port=port, password=wrong).ping()
