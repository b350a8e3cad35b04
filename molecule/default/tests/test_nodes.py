"""What a user checks by hand on each node once site.yml has run."""

from __future__ import annotations


def test_docker_engine_runs(host) -> None:
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_login_user_is_not_root(host) -> None:
    assert host.user().uid != 0
