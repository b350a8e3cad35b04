"""Filters for the preflight checks: shared machines, settings, port probes, refused logins."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def preflight_shared(keys: dict[str, str]) -> list[dict[str, Any]]:
    """Hosts that share a key (an address, a hostname), in inventory order.

    ``keys`` maps each host to its key; the answer lists every key held by
    more than one host, as ``{"key": KEY, "hosts": [HOST, ...]}``. Keys
    compare without regard to case, as host names and DNS names do.
    """
    holders: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    for host, key in keys.items():
        folded = str(key).lower()
        holders.setdefault(folded, []).append(host)
        shown.setdefault(folded, str(key))
    return [
        {"key": shown[folded], "hosts": hosts}
        for folded, hosts in holders.items()
        if len(hosts) > 1
    ]


def preflight_endpoints(hosts: list[str], hostvars: Any) -> dict[str, str]:
    """Where Ansible connects to each host: its address and SSH port."""
    answer = {}
    for host in hosts:
        found = hostvars[host]
        address = found.get("ansible_host") or host
        answer[host] = f"{address}, port {found.get('ansible_port') or 22}"
    return answer


def preflight_said(hosts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = [str(host) for host in hosts]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def preflight_given_options(spec: dict[str, Any]) -> dict[str, Any]:
    """A role's ``argument_specs.main.options`` without their defaults.

    Preflight validates only the values the inventory, the play and the
    command line give: the role's own defaults are templates of facts that do
    not exist yet, and Ansible checks them when the role runs.
    """
    options = (spec.get("argument_specs") or {}).get("main", {}).get("options") or {}
    return {
        name: {key: value for key, value in option.items() if key != "default"}
        for name, option in options.items()
    }


def preflight_port_targets(
    nodes: list[dict[str, Any]], source: str, gossip_port: int, vxlan_port: int
) -> list[dict[str, Any]]:
    """What ``source`` must reach: every other node's gossip and VXLAN ports, the managers' API.

    ``nodes`` holds ``{"host", "addr", "manager", "listen_port", "held"}`` for
    every node of the play, ``held`` the ports its responder found taken
    (``{"tcp": [...], "udp": [...]}``). A target is marked ``unprobed`` when it
    is a UDP port held on its node: nothing of ours answers there.
    """
    targets = []
    for node in nodes:
        if node["host"] == source:
            continue
        ports = [(gossip_port, "tcp"), (gossip_port, "udp"), (vxlan_port, "udp")]
        if node["manager"]:
            ports.insert(0, (int(node["listen_port"]), "tcp"))
        held_udp = [int(port) for port in (node.get("held") or {}).get("udp", [])]
        targets += [
            {
                "host": node["host"],
                "addr": node["addr"],
                "port": port,
                "proto": proto,
                "unprobed": proto == "udp" and port in held_udp,
            }
            for port, proto in ports
        ]
    return targets


# What ssh, sudo and Ansible say when a host refuses Ansible, and the parts of
# it that the hints quote.
_ANSIBLE_PREFIX = re.compile(r"^((Task|Action) failed: )+")  # ansible-core 2.19's
_HOST_KEY_CHANGED = re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED")
_HOST_KEY_VERDICT = re.compile(r"Host key for \S+ has changed.*", re.DOTALL)
_KNOWN_HOSTS_SAID = re.compile(
    r"Add correct host key in (\S+) to get rid|Offending \S+ key in (\S+?):\d"
)
_KNOWN_HOSTS = "~/.ssh/known_hosts"  # ssh's own
_KNOWN_HOSTS_GIVEN = re.compile(r"UserKnownHostsFile[= ]\s*(\S+)")
_SSH_NAME = re.compile(r"Host key for (\S+) has changed|host key is known for (\S+) and")
_FINGERPRINT = re.compile(r"key sent by the remote host is\s+(\S+?)\.?\s")
_LOGIN_USER = re.compile(r"(\S+)@\S+: Permission denied|(\S+) is not in the sudoers file")


def _said(result: Mapping[str, Any]) -> str:
    """Everything a failed or unreachable task result says, its module's output included."""
    return "\n".join(
        str(result.get(key) or "") for key in ("msg", "module_stderr", "module_stdout")
    )


def preflight_reach_error(result: Mapping[str, Any]) -> str:
    """What went wrong in a task result that failed or found its host unreachable, on one line.

    The module's own error output when there is some (sudo's complaint, a
    missing interpreter), else the message, without ansible-core's "Task
    failed: " prefixes; of ssh's warning about a changed host key, only its
    verdict. The answer ends with a full stop.
    """
    text = str(result.get("module_stderr") or "").strip() or str(result.get("msg") or "no answer")
    text = _ANSIBLE_PREFIX.sub("", text.strip())
    verdict = _HOST_KEY_VERDICT.search(text) if _HOST_KEY_CHANGED.search(text) else None
    if verdict:
        text = "Failed to connect to the host via ssh: " + verdict.group(0)
    line = " ".join(text.split())
    return line if line.endswith((".", "!", "?")) else line + "."


def _first(match: re.Match[str] | None, default: str = "") -> str:
    """The first group of a match that matched something, or ``default``."""
    return next((group for group in match.groups() if group), default) if match else default


@dataclass(frozen=True)
class _Attempt:
    """A task that did not get to run on a host: what it said, the host's connection settings."""

    host: str
    said: str
    host_vars: Mapping[str, Any]

    def var(self, *names: str) -> str:
        """The first of the host's variables ``names`` that is set, or an empty string."""
        return next((str(self.host_vars[n]) for n in names if self.host_vars.get(n)), "")

    @property
    def user(self) -> str:
        """The user Ansible logs in as: the inventory's, else the one ssh or sudo names."""
        return self.var("ansible_user", "ansible_ssh_user") or _first(_LOGIN_USER.search(self.said))

    @property
    def port(self) -> str:
        """The SSH port Ansible connects to."""
        return self.var("ansible_port", "ansible_ssh_port") or "22"

    @property
    def ssh_name(self) -> str:
        """The name ssh keeps the host's key under: its address, ``[address]:port`` off port 22."""
        address = self.var("ansible_host", "ansible_ssh_host") or self.host
        default = address if self.port == "22" else f"[{address}]:{self.port}"
        return _first(_SSH_NAME.search(self.said), default)

    @property
    def ssh_command(self) -> str:
        """How to connect once by hand, with the known_hosts file Ansible's ssh uses."""
        port = "" if self.port == "22" else f"-p {self.port} "
        known_hosts = self.known_hosts
        option = "" if known_hosts == _KNOWN_HOSTS else f"-o UserKnownHostsFile={known_hosts} "
        address = self.var("ansible_host", "ansible_ssh_host") or self.host
        return f"ssh {port}{option}{self.user + '@' if self.user else ''}{address}"

    @property
    def known_hosts(self) -> str:
        """The known_hosts file ssh checked: the one it names, the inventory's, or the default."""
        given = _first(_KNOWN_HOSTS_GIVEN.search(self.var("ansible_ssh_common_args")))
        given = given or _first(_KNOWN_HOSTS_GIVEN.search(self.var("ansible_ssh_extra_args")))
        return _first(_KNOWN_HOSTS_SAID.search(self.said), given.strip("'\"") or _KNOWN_HOSTS)


def _key_refused(at: _Attempt) -> str:
    key = at.var("ansible_ssh_private_key_file", "ansible_private_key_file")
    key = key or "not set: ssh offers the keys of your agent and of ~/.ssh"
    return (
        f"{at.host} refused the key: check ansible_user ({at.user or 'not set'}) and"
        f" ansible_ssh_private_key_file ({key}),"
        f" and that the key's public half is in that user's ~/.ssh/authorized_keys on {at.host}."
    )


def _host_key_changed(at: _Attempt) -> str:
    fingerprint = _first(_FINGERPRINT.search(at.said))
    sent = f" (it now sends {fingerprint})" if fingerprint else ""
    return (
        f"The host key of {at.host} differs from the one known for {at.ssh_name} in"
        f" {at.known_hosts}{sent}: if the host was rebuilt, run"
        f" `ssh-keygen -R {at.ssh_name} -f {at.known_hosts}` and connect once to accept its new"
        f" key (`{at.ssh_command}`); if it was not, find out why before going on."
    )


def _host_key_unknown(at: _Attempt) -> str:
    return (
        f"No host key of {at.host} is known for {at.ssh_name} in {at.known_hosts}: connect once"
        f" (`{at.ssh_command}`), check the fingerprint ssh shows and accept the key."
    )


def _sudo_password_wrong(at: _Attempt) -> str:
    return (
        f"The sudo password given for {at.user or 'the user'} on {at.host} is wrong: give the"
        " right one (--ask-become-pass), or make its sudo passwordless."
    )


def _no_sudo(at: _Attempt) -> str:
    return (
        f"{at.user or 'The user Ansible connects as'} needs sudo on {at.host}, passwordless"
        f" (a line `{at.user or 'USER'} ALL=(ALL) NOPASSWD:ALL` in /etc/sudoers.d/), or run"
        " again with --ask-become-pass to give its password."
    )


def _no_ssh(at: _Attempt) -> str:
    address = at.var("ansible_host", "ansible_ssh_host") or at.host
    return (
        f"Nothing answers SSH at {address}, port {at.port}: check ansible_host and ansible_port"
        f" of {at.host}, that the host is up and that sshd runs there."
    )


def _no_python(at: _Attempt) -> str:
    return (
        f"{at.host} has no Python for Ansible's modules: install python3 there, or point"
        " ansible_python_interpreter at one."
    )


# The known causes, each with its hint, in the order they are looked for.
_HINTS: tuple[tuple[re.Pattern[str], Callable[[_Attempt], str]], ...] = (
    (re.compile(r"Permission denied \(publickey"), _key_refused),
    (_HOST_KEY_CHANGED, _host_key_changed),
    (re.compile(r"host key is known for|Host key verification failed"), _host_key_unknown),
    (re.compile(r"Incorrect \S+ password"), _sudo_password_wrong),
    (
        re.compile(
            r"Missing \S+ password|a password is required|is not in the sudoers file"
            r"|is not allowed to execute|may not run sudo|waiting for privilege escalation prompt"
        ),
        _no_sudo,
    ),
    (
        re.compile(
            r"Connection refused|Connection timed out|Operation timed out|No route to host"
            r"|Could not resolve hostname|Name or service not known"
        ),
        _no_ssh,
    ),
    (re.compile(r"python[0-9.]*: (not found|No such file)"), _no_python),
)


def preflight_reach_hint(result: Mapping[str, Any], host: str, host_vars: Mapping[str, Any]) -> str:
    """What to do about a host that refused Ansible, given the result of the task that tried.

    ``result`` is the registered result of a task that failed or found
    ``host`` unreachable, ``host_vars`` that host's variables (the connection
    settings the hint names). The known causes are a refused key, a host key
    that differs from the known one or is not known, a user without
    (passwordless) sudo or with a wrong sudo password, nothing answering SSH,
    and no Python; for any other the answer is an empty string.
    """
    attempt = _Attempt(host, _said(result), host_vars)
    return next((hint(attempt) for cause, hint in _HINTS if cause.search(attempt.said)), "")


class FilterModule:
    """Preflight's filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "preflight_shared": preflight_shared,
            "preflight_endpoints": preflight_endpoints,
            "preflight_said": preflight_said,
            "preflight_given_options": preflight_given_options,
            "preflight_port_targets": preflight_port_targets,
            "preflight_reach_error": preflight_reach_error,
            "preflight_reach_hint": preflight_reach_hint,
        }
