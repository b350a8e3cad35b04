"""The swarm's secrets, read from the live swarm, to search playbook output for.

The values stay in this process: a failure names the secret, never prints it.
"""

from __future__ import annotations

from swarmlab import STACK, Lab


def lab_secrets(lab: Lab) -> dict[str, str]:
    """The join tokens of the swarm and the Redis password, by name."""
    tokens = lab.manager("community.docker.docker_swarm_info")["swarm_facts"]["JoinTokens"]
    where = lab.module(
        "swarm",
        "community.docker.docker_host_info",
        containers=True,
        containers_filters={"label": f"com.docker.swarm.service.name={STACK}_web"},
    )
    web = [(host, got["containers"][0]["Id"]) for host, got in where.items() if got["containers"]]
    assert web, "no web container to read the Redis password from"
    host, container = web[0]
    password = lab.module(
        host,
        "community.docker.docker_container_exec",
        container=container,
        argv=["cat", "/run/secrets/redis_password"],
    )[host]["stdout"].strip()
    found = {
        "worker join token": tokens["Worker"],
        "manager join token": tokens["Manager"],
        "Redis password": password,
    }
    assert all(len(value) >= 16 for value in found.values()), "a secret is unexpectedly short"
    return found


def leaked(secrets: dict[str, str], text: str) -> list[str]:
    """Names of the secrets that appear in text."""
    return [name for name, value in secrets.items() if value in text]
