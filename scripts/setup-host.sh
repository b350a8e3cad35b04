#!/usr/bin/env bash
# Prepare this machine for swarmstack, idempotently: the Debian packages the
# project uses, the pinned Python requirements in .venv, and a running Docker
# engine. An engine that already answers is never restarted or reconfigured.
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

ensure_engine() {
    if engine_answers; then
        say "Docker engine answers: $(docker info --format '{{.ServerVersion}}, {{.Driver}}') (left as it is)"
        return 0
    fi
    is_root || die "no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock} and this user is not root.
Start a Docker engine you may use, or run 'make setup' as root to install and start Debian's docker.io."
    install_packages docker.io
    if pgrep -x dockerd >/dev/null; then
        die "a dockerd process runs but does not answer on ${DOCKER_HOST:-/var/run/docker.sock}; see its log (${DOCKERD_LOG}) and stop it or fix it, then retry."
    fi
    say "Starting dockerd (log: ${DOCKERD_LOG})"
    setsid nohup dockerd >>"${DOCKERD_LOG}" 2>&1 </dev/null &
    local waited=0
    until engine_answers; do
        sleep 1
        waited=$((waited + 1))
        [ "$waited" -lt 60 ] || die "dockerd did not answer within 60 s; its log follows:
$(tail -n 20 "${DOCKERD_LOG}")"
    done
    say "Docker engine up after ${waited} s"
}

ensure_venv() {
    local want have=""
    want=$(sha256sum requirements.txt | cut -d' ' -f1)
    [ -f "${VENV}/.requirements.sha256" ] && have=$(cat "${VENV}/.requirements.sha256")
    [ -x "${VENV}/bin/python" ] && [ "$want" = "$have" ] && return 0
    say "Installing the pinned Python requirements into ${VENV}"
    [ -x "${VENV}/bin/python" ] || python3 -m venv "${VENV}"
    "${VENV}/bin/pip" install -q --disable-pip-version-check -r requirements.txt
    echo "$want" >"${VENV}/.requirements.sha256"
}

install_packages "${PACKAGES[@]}"
ensure_venv
ensure_engine
