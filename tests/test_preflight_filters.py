"""The preflight role's filters that turn a refused login into what to do about it.

The messages are those ssh, sudo and ansible-core 2.19 gave against the
lab's nodes; tests/playbooks/test_preflight_hosts.py sees them end to end.
"""

from __future__ import annotations

import pytest
from filter_plugins import load_filter_plugin

preflight = load_filter_plugin("preflight", "preflight.py")

LAB = {
    "ansible_host": "172.30.60.12",
    "ansible_user": "ops",
    "ansible_ssh_private_key_file": "/lab/id_ed25519",
    "ansible_ssh_common_args": "-o UserKnownHostsFile=/lab/known_hosts -o BatchMode=yes",
}
KEY_REFUSED = {
    "unreachable": True,
    "msg": "Task failed: Failed to connect to the host via ssh:"
    " ops@172.30.60.12: Permission denied (publickey).",
}
HOST_KEY_CHANGED = {
    "unreachable": True,
    "msg": """Task failed: Failed to connect to the host via ssh: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:ONr4bW8Fa8M0L5XpNO4EiPFHWaiH5cIA7BHvYlsfKL8.
Please contact your system administrator.
Add correct host key in /home/me/.ssh/known_hosts to get rid of this message.
Offending ED25519 key in /home/me/.ssh/known_hosts:3
  remove with:
  ssh-keygen -f "/home/me/.ssh/known_hosts" -R "[vcon02.example]:2222"
Host key for [vcon02.example]:2222 has changed and you have requested strict checking.
Host key verification failed.""",
}
HOST_KEY_UNKNOWN = {
    "unreachable": True,
    "msg": "Task failed: Failed to connect to the host via ssh: No ED25519 host key is known for"
    " 172.30.60.12 and you have requested strict checking.\r\nHost key verification failed.",
}
NOT_IN_SUDOERS = {
    "failed": True,
    "msg": "Module result deserialization failed: No start of json char found",
    "module_stderr": "nosudo is not in the sudoers file.",
    "module_stdout": "",
    "rc": 1,
}


def test_the_error_drops_ansibles_prefix_and_folds_to_one_sentence() -> None:
    assert preflight.preflight_reach_error({"msg": "Task failed: Missing sudo password"}) == (
        "Missing sudo password."
    )
    assert preflight.preflight_reach_error(KEY_REFUSED) == (
        "Failed to connect to the host via ssh: ops@172.30.60.12: Permission denied (publickey)."
    )
    assert preflight.preflight_reach_error({"unreachable": True}) == "no answer."


def test_the_error_of_a_module_is_what_it_wrote_on_stderr() -> None:
    assert preflight.preflight_reach_error(NOT_IN_SUDOERS) == "nosudo is not in the sudoers file."


def test_the_error_of_a_changed_host_key_is_ssh_verdict_without_its_banner() -> None:
    assert preflight.preflight_reach_error(HOST_KEY_CHANGED) == (
        "Failed to connect to the host via ssh: Host key for [vcon02.example]:2222 has changed"
        " and you have requested strict checking. Host key verification failed."
    )


def test_a_refused_key_names_the_user_and_the_key_file() -> None:
    assert preflight.preflight_reach_hint(KEY_REFUSED, "vCon02", LAB) == (
        "vCon02 refused the key: check ansible_user (ops) and ansible_ssh_private_key_file"
        " (/lab/id_ed25519), and that the key's public half is in that user's"
        " ~/.ssh/authorized_keys on vCon02."
    )


def test_a_refused_key_without_settings_names_the_user_ssh_used() -> None:
    hint = preflight.preflight_reach_hint(KEY_REFUSED, "vCon02", {})
    assert hint.startswith("vCon02 refused the key: check ansible_user (ops) and")
    assert "ansible_ssh_private_key_file (not set: ssh offers the keys of your agent" in hint


def test_a_changed_host_key_says_how_to_replace_it_and_never_to_stop_checking() -> None:
    host_vars = {"ansible_host": "vcon02.example", "ansible_port": 2222, "ansible_user": "ops"}
    hint = preflight.preflight_reach_hint(HOST_KEY_CHANGED, "vCon02", host_vars)
    assert hint == (
        "The host key of vCon02 differs from the one known for [vcon02.example]:2222 in"
        " /home/me/.ssh/known_hosts"
        " (it now sends SHA256:ONr4bW8Fa8M0L5XpNO4EiPFHWaiH5cIA7BHvYlsfKL8):"
        " if the host was rebuilt, run"
        " `ssh-keygen -R [vcon02.example]:2222 -f /home/me/.ssh/known_hosts` and connect once to"
        " accept its new key (`ssh -p 2222 -o UserKnownHostsFile=/home/me/.ssh/known_hosts"
        " ops@vcon02.example`); if it was not, find out why before going on."
    )
    assert "StrictHostKeyChecking" not in hint
    assert "host_key_checking" not in hint


def test_an_unknown_host_key_names_the_inventorys_known_hosts_file() -> None:
    assert preflight.preflight_reach_hint(HOST_KEY_UNKNOWN, "vCon02", LAB) == (
        "No host key of vCon02 is known for 172.30.60.12 in /lab/known_hosts: connect once"
        " (`ssh -o UserKnownHostsFile=/lab/known_hosts ops@172.30.60.12`), check the"
        " fingerprint ssh shows and accept the key."
    )


def test_a_bare_host_key_failure_falls_back_to_the_default_known_hosts() -> None:
    said = {
        "unreachable": True,
        "msg": "Failed to connect to the host via ssh: Host key verification failed.",
    }
    assert preflight.preflight_reach_hint(said, "w1", {"ansible_host": "10.0.0.5"}) == (
        "No host key of w1 is known for 10.0.0.5 in ~/.ssh/known_hosts: connect once"
        " (`ssh 10.0.0.5`), check the fingerprint ssh shows and accept the key."
    )


@pytest.mark.parametrize(
    "said",
    [
        {"failed": True, "msg": "Task failed: Missing sudo password"},
        {"failed": True, "msg": "sudo: a password is required"},
        {"unreachable": True, "msg": "Timeout (12s) waiting for privilege escalation prompt: "},
    ],
)
def test_no_sudo_says_it_must_be_passwordless_or_asked_for(said: dict) -> None:
    assert preflight.preflight_reach_hint(said, "vCon02", LAB) == (
        "ops needs sudo on vCon02, passwordless (a line `ops ALL=(ALL) NOPASSWD:ALL` in"
        " /etc/sudoers.d/), or run again with --ask-become-pass to give its password."
    )


def test_a_user_not_in_sudoers_is_named_as_sudo_names_it() -> None:
    assert preflight.preflight_reach_hint(NOT_IN_SUDOERS, "vCon01", {}) == (
        "nosudo needs sudo on vCon01, passwordless (a line `nosudo ALL=(ALL) NOPASSWD:ALL` in"
        " /etc/sudoers.d/), or run again with --ask-become-pass to give its password."
    )


def test_a_wrong_sudo_password_is_told_apart() -> None:
    said = {"failed": True, "msg": "Task failed: Incorrect sudo password"}
    assert preflight.preflight_reach_hint(said, "vCon02", LAB) == (
        "The sudo password given for ops on vCon02 is wrong: give the right one"
        " (--ask-become-pass), or make its sudo passwordless."
    )


def test_no_ssh_server_names_the_address_and_port() -> None:
    said = {
        "unreachable": True,
        "msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1:"
        " Connection refused",
    }
    host_vars = {"ansible_host": "127.0.0.1", "ansible_port": 1}
    assert preflight.preflight_reach_hint(said, "w2", host_vars) == (
        "Nothing answers SSH at 127.0.0.1, port 1: check ansible_host and ansible_port of w2,"
        " that the host is up and that sshd runs there."
    )


def test_no_python_says_to_install_it() -> None:
    said = {
        "failed": True,
        "msg": "The module failed to execute correctly, you probably need to set the interpreter.",
        "module_stderr": "/bin/sh: 1: /usr/bin/python3: not found\n",
    }
    assert preflight.preflight_reach_hint(said, "vCon02", LAB) == (
        "vCon02 has no Python for Ansible's modules: install python3 there, or point"
        " ansible_python_interpreter at one."
    )


def test_an_unknown_cause_has_no_hint() -> None:
    assert preflight.preflight_reach_hint({"failed": True, "msg": "Disk full"}, "vCon02", LAB) == ""


def test_the_filters_are_registered() -> None:
    filters = preflight.FilterModule().filters()
    assert filters["preflight_reach_error"] is preflight.preflight_reach_error
    assert filters["preflight_reach_hint"] is preflight.preflight_reach_hint


def port_node(host: str, addr: str, manager: bool, held_udp: tuple[int, ...] = ()) -> dict:
    """One node as ports.yml records it."""
    return {
        "host": host,
        "addr": addr,
        "manager": manager,
        "listen_port": 2377,
        "held": {"tcp": [], "udp": list(held_udp)},
    }


def test_port_targets_are_the_others_gossip_and_vxlan_and_the_managers_api() -> None:
    nodes = [
        port_node("vCon01", "172.30.56.11", True),
        port_node("vCon02", "172.30.56.12", False, held_udp=(7946, 4789)),
        port_node("vCon03", "172.30.56.13", False),
    ]
    targets = preflight.preflight_port_targets(nodes, "vCon03", 7946, 4789)
    seen = [(t["host"], t["port"], t["proto"], t["unprobed"]) for t in targets]
    assert seen == [
        ("vCon01", 2377, "tcp", False),
        ("vCon01", 7946, "tcp", False),
        ("vCon01", 7946, "udp", False),
        ("vCon01", 4789, "udp", False),
        # A swarm member's UDP ports are Docker's: nothing of ours answers there.
        ("vCon02", 7946, "tcp", False),
        ("vCon02", 7946, "udp", True),
        ("vCon02", 4789, "udp", True),
    ]
    assert {t["addr"] for t in targets if t["host"] == "vCon01"} == {"172.30.56.11"}


def test_hosts_sharing_an_address_or_a_name_are_found_without_regard_to_case() -> None:
    shared = preflight.preflight_shared({"a": "vCon01", "b": "VCON01", "c": "vCon02"})
    assert shared == [{"key": "vCon01", "hosts": ["a", "b"]}]
    assert preflight.preflight_shared({"a": "x", "b": "y"}) == []


def test_endpoints_are_the_address_and_ssh_port_ansible_uses() -> None:
    hostvars = {"a": {"ansible_host": "192.0.2.1"}, "b": {"ansible_port": 2222}}
    assert preflight.preflight_endpoints(["a", "b"], hostvars) == {
        "a": "192.0.2.1, port 22",
        "b": "b, port 2222",
    }


def test_hosts_are_said_as_a_person_lists_them() -> None:
    assert preflight.preflight_said(["a"]) == "a"
    assert preflight.preflight_said(["a", "b"]) == "a and b"
    assert preflight.preflight_said(["a", "b", "c"]) == "a, b and c"


def test_given_options_are_the_specs_without_their_defaults() -> None:
    spec = {
        "argument_specs": {
            "main": {"options": {"x": {"type": "int", "default": 5, "description": "d"}}}
        }
    }
    assert preflight.preflight_given_options(spec) == {"x": {"type": "int", "description": "d"}}
    assert preflight.preflight_given_options({}) == {}
