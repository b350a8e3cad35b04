"""Preflight names a host that refuses Ansible, or runs a system it does not serve, and what to do.

On the two-node lab of conftest.py, each test breaks what a user can get
wrong (the key, the known host key, sudo, the system), runs
playbooks/preflight.yml, checks that it stops before any change with a
message that names the host and says what to do, then does that and checks
that the next run passes.
"""

from __future__ import annotations

import re
import subprocess

import pytest

pytestmark = pytest.mark.docker

NOTHING_CHANGED = " Nothing was changed."


def changed_nothing(run) -> bool:
    """Whether the run's recap says that no host was changed."""
    return set(re.findall(r"changed=(\d+)", run.flat)) == {"0"}


def passes(lab) -> None:
    run = lab.preflight()
    assert run.rc == 0, run.output
    assert changed_nothing(run), run.output


def command(*argv: str) -> str:
    """Run a command on this machine (the controller); its output."""
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_a_refused_or_missing_key_is_named_with_the_settings_to_check(lab) -> None:
    missing = lab.work / "no-such-key"
    other = lab.work / "other-key"
    command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other))
    run = lab.preflight(
        host_vars={
            "vCon01": {"ansible_ssh_private_key_file": str(missing)},
            "vCon02": {"ansible_ssh_private_key_file": str(other)},
        }
    )
    assert run.rc != 0
    assert changed_nothing(run), run.output
    assert (
        "Cannot reach vCon01, vCon02:"
        " vCon01 (172.30.60.11): Failed to connect to the host via ssh: no such identity:"
        f" {missing}: No such file or directory ops@172.30.60.11: Permission denied (publickey)."
        " vCon01 refused the key: check ansible_user (ops) and ansible_ssh_private_key_file"
        f" ({missing}), and that the key's public half is in that user's"
        " ~/.ssh/authorized_keys on vCon01."
        " vCon02 (172.30.60.12): Failed to connect to the host via ssh:"
        " ops@172.30.60.12: Permission denied (publickey)."
        " vCon02 refused the key: check ansible_user (ops) and ansible_ssh_private_key_file"
        f" ({other}), and that the key's public half is in that user's"
        " ~/.ssh/authorized_keys on vCon02." + NOTHING_CHANGED in run.flat
    ), run.flat
    passes(lab)


def test_a_changed_host_key_is_named_with_how_to_accept_the_new_one(lab) -> None:
    """Never by turning host key checking off: the hint removes the old key, then asks ssh."""
    address = lab.nodes["vCon02"]
    known_hosts = lab.work / "known_hosts-changed"
    other = lab.work / "other-host-key"
    command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other))
    known = lab.known_hosts.read_text(encoding="utf-8").splitlines()
    known_hosts.write_text(
        "".join(
            f"{address} {other.with_suffix('.pub').read_text(encoding='utf-8')}"
            if line.startswith(f"{address} ")
            else line + "\n"
            for line in known
        ),
        encoding="utf-8",
    )
    host_key = lab.on_node("vCon02", "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", "-"], input=host_key, capture_output=True, text=True, check=True
    ).stdout.split()[1]
    checked = {
        "vCon02": {
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
            )
        }
    }
    run = lab.preflight(host_vars=checked)
    assert run.rc != 0
    assert changed_nothing(run), run.output
    assert (
        "Cannot reach vCon02: vCon02 (172.30.60.12): Failed to connect to the host via ssh:"
        " Host key for 172.30.60.12 has changed and you have requested strict checking."
        " Host key verification failed. The host key of vCon02 differs from the one known for"
        f" 172.30.60.12 in {known_hosts} (it now sends {fingerprint}): if the host was rebuilt,"
        f" run `ssh-keygen -R 172.30.60.12 -f {known_hosts}` and connect once to accept its new"
        f" key (`ssh -o UserKnownHostsFile={known_hosts} ops@172.30.60.12`); if it was not,"
        " find out why before going on." + NOTHING_CHANGED in run.flat
    ), run.flat
    assert "StrictHostKeyChecking=no" not in run.flat.split("Cannot reach", 1)[1]
    assert "host_key_checking" not in run.flat

    command("ssh-keygen", "-R", address, "-f", str(known_hosts))
    unknown = lab.preflight(host_vars=checked)
    assert unknown.rc != 0
    assert (
        "Cannot reach vCon02: vCon02 (172.30.60.12): Failed to connect to the host via ssh:"
        " No ED25519 host key is known for 172.30.60.12 and you have requested strict checking."
        " Host key verification failed. No host key of vCon02 is known for 172.30.60.12 in"
        f" {known_hosts}: connect once (`ssh -o UserKnownHostsFile={known_hosts}"
        " ops@172.30.60.12`), check the fingerprint ssh shows and accept the key."
        + NOTHING_CHANGED
        in unknown.flat
    ), unknown.flat
    # Connecting once, as the hint says; accept-new stands for the user's "yes".
    command(
        *("ssh", "-o", f"UserKnownHostsFile={known_hosts}", "-o", "BatchMode=yes"),
        *("-o", "StrictHostKeyChecking=accept-new", "-i", str(lab.key), f"ops@{address}", "true"),
    )
    # ssh may hash the name (HashKnownHosts): ask ssh-keygen, not the file's text.
    assert host_key.split()[1] in command("ssh-keygen", "-F", address, "-f", str(known_hosts))
    fixed = lab.preflight(host_vars=checked)
    assert fixed.rc == 0, fixed.output


def test_a_user_without_sudo_is_named_with_what_it_needs(lab) -> None:
    """ops without its sudoers file, then a user with a password but no sudo.

    The first through site.yml, which must stop at preflight for both hosts:
    a refused become once let the later plays go on with the other host.
    """
    lab.on_node("vCon02", "mv", "/etc/sudoers.d/90-ops", "/root/90-ops.pftest")
    try:
        run = lab.run("site.yml")
    finally:
        lab.on_node("vCon02", "mv", "/root/90-ops.pftest", "/etc/sudoers.d/90-ops")
    assert run.rc != 0
    assert changed_nothing(run), run.output
    assert run.output.count("PLAY [") == 1, run.output
    docker = {
        node: lab.on_node(node, "sh", "-c", "command -v dockerd || true") for node in lab.nodes
    }
    assert docker == dict.fromkeys(lab.nodes, "")
    assert (
        "Cannot run Ansible as root on vCon02: vCon02 (172.30.60.12): Missing sudo password."
        " ops needs sudo on vCon02, passwordless (a line `ops ALL=(ALL) NOPASSWD:ALL` in"
        " /etc/sudoers.d/), or run again with --ask-become-pass to give its password."
        + NOTHING_CHANGED
        in run.flat
    ), run.flat

    lab.on_node(
        "vCon01",
        "sh",
        "-c",
        "useradd --create-home --shell /bin/bash nosudo && echo nosudo:secret | chpasswd"
        " && install -d -m 0700 -o nosudo -g nosudo /home/nosudo/.ssh"
        " && install -m 0600 -o nosudo -g nosudo /home/ops/.ssh/authorized_keys /home/nosudo/.ssh/",
    )
    try:
        asked = lab.preflight(
            host_vars={"vCon01": {"ansible_user": "nosudo", "ansible_become_password": "secret"}}
        )
    finally:
        lab.on_node("vCon01", "userdel", "--remove", "nosudo", check=False)
    assert asked.rc != 0
    assert (
        "Cannot run Ansible as root on vCon01: vCon01 (172.30.60.11): nosudo is not in the"
        " sudoers file. nosudo needs sudo on vCon01, passwordless (a line"
        " `nosudo ALL=(ALL) NOPASSWD:ALL` in /etc/sudoers.d/), or run again with"
        " --ask-become-pass to give its password." + NOTHING_CHANGED in asked.flat
    ), asked.flat
    passes(lab)


def test_a_system_other_than_debian_or_ubuntu_is_refused(lab) -> None:
    fedora = (
        'NAME="Fedora Linux"\\nVERSION="40 (Forty)"\\nID=fedora\\nVERSION_ID=40\\n'
        'PRETTY_NAME="Fedora Linux 40 (Forty)"\\n'
    )
    lab.on_node(
        "vCon02",
        "sh",
        "-c",
        f"mv /etc/os-release /root/os-release.pftest && printf '{fedora}' > /etc/os-release",
    )
    try:
        run = lab.preflight()
    finally:
        lab.on_node("vCon02", "sh", "-c", "mv -f /root/os-release.pftest /etc/os-release")
    assert run.rc != 0
    assert changed_nothing(run), run.output
    assert (
        "vCon02 runs Fedora Linux 40: give it Debian or Ubuntu, or take it out of the"
        " inventory. swarmstack installs Docker on Debian and Ubuntu only."
        + NOTHING_CHANGED
        in run.flat
    ), run.flat
    assert "vCon01 runs" not in run.flat
    passes(lab)
