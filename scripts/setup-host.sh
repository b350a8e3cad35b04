#!/usr/bin/env bash
# Prepare this machine for swarmstack, idempotently.
#
#   scripts/setup-host.sh        (make setup) the Debian packages the project
#                                uses, .venv with requirements/test.txt (the
#                                controller's requirements and the tests'), and
#                                a running Docker engine
#   scripts/setup-host.sh venv   (make venv) only .venv with
#                                requirements/controller.txt: what
#                                ansible-playbook needs; no root, no Docker
#
# An engine that already answers is never restarted or reconfigured.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(debootstrap redis-server chromium chromium-driver openssh-client iproute2 curl python3-venv wrk)
DOCKERD_LOG=${SWARMSTACK_DOCKERD_LOG:-/var/log/swarmstack-dockerd.log}
VENV=.venv

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
engine_answers() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || printf '%s\n' "$pkg"
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages "$@")
    [ "${#missing[@]}" -eq 0 ] && return 0
    is_root || die "these Debian packages are missing: ${missing[*]}.
Install them (sudo apt-get install ${missing[*]}) or run this as root."
    command -v apt-get >/dev/null || die "no apt-get here: swarmstack's set-up needs a Debian or Ubuntu host."
    say "Installing Debian packages: ${missing[*]}"
    local log
    log=$(mktemp)
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l \
            apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "apt-get could not install: ${missing[*]} (see above)"
    fi
    rm -f "$log"
}

# Wait up to $1 seconds for the engine to answer; WAITED says how long it took.
WAITED=0
wait_for_engine() {
    WAITED=0
    until engine_answers; do
        [ "$WAITED" -lt "$1" ] || return 1
        sleep 1
        WAITED=$((WAITED + 1))
    done
}

# On a systemd host docker.io's postinst has already started docker.service
# (through docker.socket), which may not answer yet: enable and start it
# (neither restarts a running unit) and wait for the engine.
start_engine_with_systemd() {
    say "Enabling docker.service and starting it with systemctl"
    systemctl enable --quiet --now docker.service \
        || die "systemctl could not start docker.service; see: systemctl status docker.service; journalctl -u docker.service"
    wait_for_engine 60 || die "docker.service runs but the engine did not answer on ${DOCKER_HOST:-/var/run/docker.sock} within 60 s; its journal follows:
$(journalctl -u docker.service -n 20 --no-pager 2>&1)"
    say "Docker engine up (docker.service) after ${WAITED} s"
}

start_engine_in_background() {
    if pgrep -x dockerd >/dev/null; then
        say "A dockerd process runs: waiting for it to answer"
        wait_for_engine 30 || die "a dockerd process runs (PID $(pgrep -d ' ' -x dockerd)) but did not answer on ${DOCKER_HOST:-/var/run/docker.sock} within 30 s: see its log (${DOCKERD_LOG} if this script started it), stop it or fix it, then retry."
        say "Docker engine answers after ${WAITED} s"
        return 0
    fi
    say "Starting dockerd (log: ${DOCKERD_LOG})"
    setsid nohup dockerd >>"${DOCKERD_LOG}" 2>&1 </dev/null &
    wait_for_engine 60 || die "dockerd did not answer within 60 s; its log follows:
$(tail -n 20 "${DOCKERD_LOG}")"
    say "Docker engine up after ${WAITED} s"
}

ensure_engine() {
    if engine_answers; then
        say "Docker engine answers: $(docker info --format '{{.ServerVersion}}, {{.Driver}}') (left as it is)"
        return 0
    fi
    is_root || die "no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock} and this user is not root.
Start a Docker engine you may use, or run 'make setup' as root to install and start Debian's docker.io."
    install_packages docker.io
    if [ -d /run/systemd/system ]; then
        start_engine_with_systemd
    else
        start_engine_in_background
    fi
}

# .venv remembers the sha256 of each lock installed in it (.venv/.LOCK.sha256),
# so that a second run installs nothing. Installing test.txt installs
# controller.txt with it (test.txt holds the same pins), so both count as
# installed; installing controller.txt alone may change packages the tests
# use, so test.txt no longer counts.
lock_installed() {
    [ -x "${VENV}/bin/python" ] && [ -f "${VENV}/.$1.sha256" ] \
        && [ "$(cat "${VENV}/.$1.sha256")" = "$(sha256sum "requirements/$1.txt" | cut -d' ' -f1)" ]
}

make_venv() {
    [ -x "${VENV}/bin/pip" ] && return 0
    command -v python3 >/dev/null || die "no python3 here: install Python 3.11 or later (Debian: sudo apt-get install python3 python3-venv)."
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$(python3 --version 2>&1) is too old: ansible-core 2.19 needs Python 3.11 or later on the controller."
    local log
    log=$(mktemp)
    if ! python3 -m venv --clear "${VENV}" >"$log" 2>&1; then
        tail -n 5 "$log" >&2
        rm -rf "${VENV}" "$log"
        die "python3 -m venv could not make ${VENV} (see above): install python3-venv (sudo apt-get install python3-venv), then retry."
    fi
    rm -f "$log"
}

# pip install ARGS into .venv, quietly; on failure the last lines of pip's
# output and a message naming WHAT could not be installed.
pip_install() {
    local what=$1 log
    shift
    log=$(mktemp)
    if ! "${VENV}/bin/pip" install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        grep -v "^WARNING: Location '.*' is ignored" "$log" | tail -n 20 >&2
        rm -f "$log"
        die "pip could not install ${what} into ${VENV} (see above)"
    fi
    rm -f "$log"
}

ensure_venv() {
    local lock=$1 locks=("$1") args=() one
    lock_installed "$lock" && return 0
    # controller.txt with test.txt: pip refuses the two if their pins differ.
    [ "$lock" = test ] && locks=(controller test)
    for one in "${locks[@]}"; do args+=(-r "requirements/${one}.txt"); done
    make_venv
    say "Installing the pinned Python requirements (requirements/${lock}.txt) into ${VENV}"
    # --no-compile: byte-compiling every file of the ansible package's
    # collections at install time tripled the time of a first install
    # (test.txt from local wheels: 90 s, 28 s without); Python compiles what
    # it imports when it first imports it.
    pip_install "requirements/${lock}.txt" --no-compile "${args[@]}"
    rm -f "${VENV}/.requirements.sha256"
    [ "$lock" = controller ] && rm -f "${VENV}/.test.sha256"
    for one in "${locks[@]}"; do
        sha256sum "requirements/${one}.txt" | cut -d' ' -f1 >"${VENV}/.${one}.sha256"
    done
}

# The apps and the tests' harness, installed editable into .venv so that the
# tests and benchmarks import them as packages (swarmstack_web, swarmviz,
# swarmstack_harness). --no-deps: what they need comes pinned from test.txt.
# Their build backend, flit_core, builds nothing in the source folders (no
# egg-info in the images' build contexts); pip fetches it from the index, as
# it fetched test.txt. .venv/.editable.sha256 remembers the pyproject.toml
# files installed, so that a second run installs nothing.
EDITABLE=(files/web files/visualizer tests/harness)
editable_sha() {
    local dir
    for dir in "${EDITABLE[@]}"; do sha256sum "${dir}/pyproject.toml"; done | sha256sum | cut -d' ' -f1
}

ensure_editable() {
    local args=() dir
    [ -f "${VENV}/.editable.sha256" ] && [ "$(cat "${VENV}/.editable.sha256")" = "$(editable_sha)" ] && return 0
    for dir in "${EDITABLE[@]}"; do args+=(-e "${dir}"); done
    say "Installing the apps and the tests' harness into ${VENV}, editable: ${EDITABLE[*]}"
    pip_install "${EDITABLE[*]}" --no-deps "${args[@]}"
    editable_sha >"${VENV}/.editable.sha256"
}

case "${1:-setup}" in
    setup)
        install_packages "${PACKAGES[@]}"
        ensure_venv test
        ensure_editable
        ensure_engine
        ;;
    venv)
        ensure_venv controller
        say "${VENV} has the controller's requirements: ${VENV}/bin/ansible-playbook is ready"
        ;;
    *) die "usage: $0 [setup|venv]" ;;
esac
