#!/bin/sh
# Start one Redis node of the stack: a server (the primary or a replica) or a
# Sentinel. Mounted into the redis and sentinel tasks as a swarm config, so it
# runs the same in the images built here and in the official redis image.
#
#   redis-node.sh server REDIS-SERVER-ARGS...   (redis.conf and options)
#   redis-node.sh sentinel
#
# A server asks the Sentinels which node is the primary and starts as its
# replica. Only when no Sentinel knows a primary (a new deployment, or after
# `docker stack rm`) and no other server is one does the server on
# REDIS_FIRST_NODE start as the primary; every other server waits for one.
# So a primary that comes back after a failover never takes writes: it asks
# first, and starts as a replica of the new primary.
# Every node announces its task's own address (not a service VIP).
#
# Environment: REDIS_MASTER_NAME (the name Sentinel monitors), REDIS_FIRST_NODE
# (the node whose server starts as the first primary), NODE_HOSTNAME (this
# task's node), REDIS_PEERS / SENTINEL_PEERS (DNS names listing every server /
# Sentinel task, e.g. tasks.redis), SENTINEL_QUORUM, SENTINEL_DOWN_AFTER_MS,
# SENTINEL_FAILOVER_TIMEOUT_MS, REDIS_PASSWORD_FILE.
set -eu

mode=${1:?say server or sentinel}
shift
name=${REDIS_MASTER_NAME:?}
password=$(cat "${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}")
REDISCLI_AUTH=$password
export REDISCLI_AUTH

say() { echo "redis-node: $*" >&2; }

# This task's address on the stack network: Docker writes it to /etc/hosts
# next to the container's hostname.
own_ip() {
    ip=$(awk -v h="$(hostname)" '$2 == h { print $1; exit }' /etc/hosts)
    [ -n "$ip" ] || ip=$(hostname -i | awk '{ print $1 }')
    echo "$ip"
}

peer_ips() { getent ahostsv4 "$1" 2>/dev/null | awk '{ print $1 }' | sort -u || true; }

cli() { timeout 3 redis-cli --no-auth-warning "$@" 2>/dev/null; }

# The primary's address the first answering Sentinel (not this one) knows.
sentinel_says() {
    for s in $(peer_ips "$SENTINEL_PEERS"); do
        [ "$s" = "$me" ] && continue
        addr=$(cli -h "$s" -p 26379 SENTINEL get-master-addr-by-name "$name" | sed -n 1p) || continue
        if [ -n "$addr" ]; then
            echo "$addr"
            return
        fi
    done
}

is_primary() { [ "$(cli -h "$1" -p 6379 ROLE | sed -n 1p)" = master ]; }

# A server of another task that says it is a primary.
peer_primary() {
    for p in $(peer_ips "$REDIS_PEERS"); do
        [ "$p" = "$me" ] && continue
        if is_primary "$p"; then
            echo "$p"
            return
        fi
    done
}

quote() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }

me=$(own_ip)
[ -n "$me" ] || { say "cannot find this task's address"; exit 1; }

case $mode in
server)
    waited=0
    while :; do
        said=$(sentinel_says)
        if [ -n "$said" ] && [ "$said" != "$me" ] && is_primary "$said"; then
            say "the Sentinels name $said the primary: starting as its replica ($me)"
            exec redis-server "$@" --replica-announce-ip "$me" --replicaof "$said" 6379
        fi
        if [ -z "$said" ]; then
            found=$(peer_primary)
            if [ -n "$found" ]; then
                say "no Sentinel knows a primary; $found is one: starting as its replica ($me)"
                exec redis-server "$@" --replica-announce-ip "$me" --replicaof "$found" 6379
            fi
            if [ "$NODE_HOSTNAME" = "$REDIS_FIRST_NODE" ]; then
                say "no Sentinel knows a primary and no server is one: starting as the primary ($me)"
                exec redis-server "$@" --replica-announce-ip "$me"
            fi
        fi
        [ $((waited % 10)) -eq 0 ] && say "waiting for a primary (the Sentinels say: ${said:-nothing}) for ${waited} s"
        waited=$((waited + 1))
        sleep 1
    done
    ;;
sentinel)
    waited=0
    while :; do
        primary=$(sentinel_says)
        if [ -n "$primary" ] && ! is_primary "$primary"; then
            primary=""
        fi
        [ -n "$primary" ] || primary=$(peer_primary)
        [ -n "$primary" ] && break
        [ $((waited % 10)) -eq 0 ] && say "waiting for a primary to monitor for ${waited} s"
        waited=$((waited + 1))
        sleep 1
    done
    # Sentinel rewrites its configuration file: a writable copy, made anew
    # by each task. The same myid on the same node lets the other Sentinels
    # replace this node's old entry instead of counting one more Sentinel.
    conf=${SENTINEL_CONF:-/tmp/sentinel.conf}
    myid=$(printf '%s/%s' "$name" "$NODE_HOSTNAME" | sha1sum | cut -c1-40)
    secret=$(quote "$password")
    umask 077
    cat > "$conf" <<CONF
port 26379
dir /tmp
requirepass "$secret"
sentinel myid $myid
sentinel announce-ip $me
sentinel sentinel-pass "$secret"
sentinel monitor $name $primary 6379 ${SENTINEL_QUORUM:-2}
sentinel auth-pass $name "$secret"
sentinel down-after-milliseconds $name ${SENTINEL_DOWN_AFTER_MS:-5000}
sentinel failover-timeout $name ${SENTINEL_FAILOVER_TIMEOUT_MS:-30000}
sentinel parallel-syncs $name 1
CONF
    say "monitoring the primary $primary as $me (myid $myid)"
    exec redis-server "$conf" --sentinel
    ;;
*)
    say "unknown mode $mode: say server or sentinel"
    exit 2
    ;;
esac
