#!/bin/sh
# Start one Redis node of the stack: a server (the primary or a replica) or a
# Sentinel. Mounted into the redis and sentinel tasks as a swarm config, so it
# runs the same in the images built here and in the official redis image.
#
#   redis-node.sh server REDIS-SERVER-ARGS...   (redis.conf and options)
#   redis-node.sh sentinel
#
# A server asks the Sentinels which server is the primary and starts as its
# replica. It starts as the primary only when a majority of the Sentinels
# answer and none knows a primary (a new deployment, or after `docker stack
# rm`), no other server is one, and its data was current when it stopped
# (may_start_first); then it tells the Sentinels to monitor it. A server that cannot reach a majority of
# the Sentinels (its node just came back and the overlay network has not
# caught up yet) waits: so a primary that comes back after a failover never
# starts as a primary of its own, it starts as the new primary's replica.
#
# A Sentinel starts at once, monitoring the primary its peers know, if any;
# until it monitors one it keeps asking its peers, then the servers (a
# primary with a replica), and monitors what they name. Both watch their
# view afterwards (watch_server, watch_sentinel).
#
# Every server and Sentinel announces its task's own address (not a VIP).
#
# Environment: REDIS_MASTER_NAME (the name Sentinel monitors), REDIS_FIRST_NODE
# (the node whose server starts as the first primary), REDIS_NODES (the nodes
# of the servers, in the order they may start as the primary), NODE_HOSTNAME (this
# task's node), REDIS_PEERS / SENTINEL_PEERS (DNS names listing every server /
# Sentinel task, e.g. tasks.redis), SENTINEL_QUORUM, SENTINEL_DOWN_AFTER_MS,
# SENTINEL_FAILOVER_TIMEOUT_MS, REDIS_PASSWORD_FILE.
set -eu

mode=${1:?say server or sentinel}
shift
name=${REDIS_MASTER_NAME:?}
quorum=${SENTINEL_QUORUM:-2}
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

# The watchdogs below ask every 2 s (a server) or 5 s (a Sentinel) for as
# long as they run: their replies are read with the shell's own means, not a
# tr, sed, awk or head each (an idle replica's task took about a quarter less
# CPU on the lab without them).
nl='
'
cr=$(printf '\r')

is_primary() {
    role_reply=$(cli -h "$1" -p 6379 ROLE) || return 1
    [ "${role_reply%%"$nl"*}" = master ]
}

# Ask every Sentinel (but this one) for the primary. Sets `answered` (how
# many answered) and `known` (a primary one of them names, one that says it
# is the primary if there is one).
ask_sentinels() {
    answered=0
    known=""
    for s in $(peer_ips "$SENTINEL_PEERS"); do
        [ "$s" = "$me" ] && continue
        reply=$(cli -h "$s" -p 26379 SENTINEL get-master-addr-by-name "$name") || continue
        answered=$((answered + 1))
        addr=${reply%%"$nl"*}
        [ -n "$addr" ] || continue
        if [ -z "$known" ] || is_primary "$addr"; then
            known=$addr
        fi
    done
}

# The server of another task that says it is a primary, when exactly one
# does; with an argument, only if it has at least one replica connected.
peer_primary() {
    claims=""
    for p in $(peer_ips "$REDIS_PEERS"); do
        [ "$p" = "$me" ] && continue
        info=$(cli -h "$p" -p 6379 INFO replication) || continue
        case $info in *role:master*) ;; *) continue ;; esac
        if [ $# -gt 0 ]; then
            case $info in *connected_slaves:0*) continue ;; esac
        fi
        claims="$claims $p"
    done
    set -- $claims
    [ $# -eq 1 ] && echo "$1"
    return 0
}

# How many replicas a Sentinel points at a new primary at once, after a
# failover: all of them. A Sentinel never forgets a replica, and swarm gives a
# replaced task a new address, so its list holds old addresses too; with 1
# (Sentinel's default) it waited 10 s on such an address (SLAVEOF sent, never
# done) before the live replica's turn, and the new primary, with no replica
# yet, refused every write for that long (min-replicas-to-write). Seen on the
# drills lab: 14 s without a count after the primary's node was lost.
parallel_syncs=64

# Make the Sentinel at $1 monitor the primary at $2 (the password from
# standard input, never on a command line).
monitor() {
    cli -h "$1" -p 26379 SENTINEL MONITOR "$name" "$2" 6379 "$quorum" >/dev/null || return 1
    printf '%s' "$password" | cli -x -h "$1" -p 26379 SENTINEL SET "$name" auth-pass >/dev/null
    cli -h "$1" -p 26379 SENTINEL SET "$name" down-after-milliseconds "${SENTINEL_DOWN_AFTER_MS:-5000}" \
        failover-timeout "${SENTINEL_FAILOVER_TIMEOUT_MS:-10000}" parallel-syncs "$parallel_syncs" >/dev/null
    say "the Sentinel at $1 monitors the primary $2"
}

monitors_nothing() { [ -z "$(cli -h "$1" -p 26379 SENTINEL get-master-addr-by-name "$name")" ]; }

# role, link and syncing from the INFO replication reply $1 ("field:value"
# lines ending in CR).
read_replication() {
    role="" link="" syncing=""
    while IFS=: read -r key value; do
        value=${value%"$cr"}
        case $key in
        role) role=$value ;;
        master_link_status) link=$value ;;
        master_sync_in_progress) syncing=$value ;;
        esac
    done <<REPLY
$1
REPLY
}

# flags, reported and mine from the SENTINEL MASTER reply $1 (a name's
# value on the line after it): the first value of flags, role-reported and ip.
read_master() {
    flags="" reported="" mine="" prev=""
    while IFS= read -r line; do
        line=${line%"$cr"}
        case $prev in
        flags) [ -n "$flags" ] || flags=$line ;;
        role-reported) [ -n "$reported" ] || reported=$line ;;
        ip) [ -n "$mine" ] || mine=$line ;;
        esac
        prev=$line
    done <<REPLY
$1
REPLY
}

# Write this server's note ($marker) when it changes.
noted=""
note() {
    [ "$1" = "$noted" ] && return 0
    echo "$1" > "$marker.new" && mv "$marker.new" "$marker" && noted=$1
}

# Swarm gives a replaced task a new address, and may give an old one to
# another task: a Sentinel or a server can be left pointing at an address
# that is gone. The Sentinels only correct the servers they know, so each
# server and Sentinel also watches its own view and follows the primary a
# majority of the Sentinels (a peer, for a Sentinel) names instead.
watch_server() {
    set +e # a watchdog carries on after a failed command
    # A replica's data is behind until it has synced with its primary.
    [ "$1" = primary ] || note behind
    until cli -h 127.0.0.1 -p 6379 PING | grep -q PONG; do sleep 0.5; done
    strikes=0
    while :; do
        sleep 2
        info=$(cli -h 127.0.0.1 -p 6379 INFO replication) || continue
        read_replication "$info"
        if [ "$role" = master ]; then
            note primary
        elif [ "$link" = up ] && [ "$syncing" = 0 ]; then
            note in-sync
        else
            note behind
        fi
        if [ "$role" = slave ] && [ "$link" = up ]; then
            strikes=0
            continue
        fi
        ask_sentinels
        if [ -z "$known" ] || [ "$known" = "$me" ] || [ "$answered" -lt "$quorum" ]; then
            strikes=0
            continue
        fi
        strikes=$((strikes + 1))
        # A replica cut off from its primary follows the primary a majority
        # of the Sentinels names after two looks in a row (4 s): the Sentinels
        # point the replicas they know at a new primary themselves, but not one
        # that came back moments before its primary was lost (they learn of a
        # replica from its primary, every 10 s), and without a replica the new
        # primary takes no write. Seen on the drills lab: 14 s without a count
        # on fail back, the returned node's server still on the lost primary.
        # While a failover runs they still name the old primary, which is down,
        # so is_primary holds it back. A primary that the Sentinels do not name
        # (an old one back with its data) waits 16 s before it gives in.
        if [ "$role" = slave ]; then need=2; else need=8; fi
        if [ "$strikes" -ge "$need" ] && is_primary "$known"; then
            say "$role with link ${link:-none}, but the Sentinels name $known the primary: becoming its replica"
            cli -h 127.0.0.1 -p 6379 REPLICAOF "$known" 6379 >/dev/null
            strikes=0
        fi
    done
}

watch_sentinel() {
    set +e # a watchdog carries on after a failed command
    until cli -h 127.0.0.1 -p 26379 PING | grep -q PONG; do sleep 0.5; done
    strikes=0
    stale=0
    while :; do
        if monitors_nothing 127.0.0.1; then
            # Adopt the primary the peers, or else the servers, name.
            ask_sentinels
            [ -n "$known" ] && ! is_primary "$known" && known=""
            [ -n "$known" ] || known=$(peer_primary with-replica)
            [ -n "$known" ] && monitor 127.0.0.1 "$known"
            sleep 2
            continue
        fi
        sleep 5
        state=$(cli -h 127.0.0.1 -p 26379 SENTINEL MASTER "$name") || continue
        read_master "$state"
        case "$flags/$reported" in
        *s_down* | *o_down* | */slave) stale=$((stale + 1)) ;;
        *)
            strikes=0
            stale=0
            continue
            ;;
        esac
        ask_sentinels
        if [ -n "$known" ] && [ "$known" != "$mine" ] && is_primary "$known"; then
            strikes=$((strikes + 1))
        else
            strikes=0
        fi
        # Twelve looks (60 s) with the primary gone and no server a primary
        # anywhere: the Sentinels disagree and none can fail over (seen when
        # the Sentinels were replaced while a primary went down). Force a
        # failover to the best replica this Sentinel knows.
        if [ "$stale" -ge 12 ] && [ -z "$(peer_primary)" ]; then
            say "the primary $mine is gone ($flags) and no server is a primary: forcing a failover"
            cli -h 127.0.0.1 -p 26379 SENTINEL FAILOVER "$name" >/dev/null
            stale=0
        fi
        # Six looks in a row (30 s): longer than a failover takes.
        if [ "$strikes" -ge 6 ]; then
            say "the primary $mine is gone ($flags, reported $reported); the peers name $known: monitoring it"
            cli -h 127.0.0.1 -p 26379 SENTINEL REMOVE "$name" >/dev/null
            monitor 127.0.0.1 "$known"
            strikes=0
        fi
    done
}

quote() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }

# Whether this server's data was current when it last looked (every 2 s):
# "primary" (it was the primary), "in-sync" (a replica linked to it and not
# loading), "behind" (starting, syncing or cut off), or "none" (never ran
# here).
marker=/data/.swarmstack-sync
sync_state() { cat "$marker" 2>/dev/null || echo none; }

# With no primary anywhere (a new deployment, or after `docker stack rm`),
# which server starts as the primary. The one that was the primary when the
# stack stopped has every write a client was shown (a replica may have
# stopped a moment before the last ones: seen on the drills lab, where the
# first node's replica, in sync when it stopped, started as the primary
# after a teardown and four counted visits were lost), so:
# - "primary": at once on REDIS_FIRST_NODE, after 5 s per rank in
#   REDIS_NODES elsewhere, so that a second such note (left by a primary
#   whose node was lost and did not come back before the teardown) never
#   makes two primaries at once;
# - REDIS_FIRST_NODE with no note ("none": a new deployment, or a single
#   Redis moving over): at once as well;
# - "in-sync": only once the others had their turn, 5 s per server and then
#   10 s per rank (REDIS_FIRST_NODE first);
# - "behind" or no note elsewhere: never, but REDIS_FIRST_NODE after 120 s,
#   whatever its data.
may_start_first() {
    state=$(sync_state)
    rank=0
    servers=0
    for node in ${REDIS_NODES:-}; do
        servers=$((servers + 1))
    done
    if [ "$NODE_HOSTNAME" != "$REDIS_FIRST_NODE" ]; then
        rank=1
        for node in ${REDIS_NODES:-}; do
            [ "$node" = "$NODE_HOSTNAME" ] && break
            [ "$node" = "$REDIS_FIRST_NODE" ] || rank=$((rank + 1))
        done
    fi
    case $state in
    primary) [ "$1" -ge $((rank * 5)) ] ;;
    in-sync) [ "$1" -ge $((servers * 5 + rank * 10)) ] ;;
    *) [ "$NODE_HOSTNAME" = "$REDIS_FIRST_NODE" ] && { [ "$state" = none ] || [ "$1" -ge 120 ]; } ;;
    esac
}

me=$(own_ip)
[ -n "$me" ] || { say "cannot find this task's address"; exit 1; }

case $mode in
server)
    waited=0
    while :; do
        ask_sentinels
        if [ -n "$known" ] && [ "$known" != "$me" ] && is_primary "$known"; then
            say "the Sentinels name $known the primary: starting as its replica ($me)"
            watch_server replica &
            exec redis-server "$@" --replica-announce-ip "$me" --replicaof "$known" 6379
        fi
        if [ -z "$known" ] && [ "$answered" -ge "$quorum" ]; then
            found=$(peer_primary)
            if [ -n "$found" ]; then
                say "no Sentinel knows a primary; $found is one: starting as its replica ($me)"
                watch_server replica &
                exec redis-server "$@" --replica-announce-ip "$me" --replicaof "$found" 6379
            fi
            if may_start_first "$waited"; then
                say "$answered Sentinels know no primary and no server is one: starting as the primary ($me, data $(sync_state))"
                (
                    set +e
                    until cli -h 127.0.0.1 -p 6379 PING | grep -q PONG; do sleep 0.2; done
                    for s in $(peer_ips "$SENTINEL_PEERS"); do
                        monitors_nothing "$s" && monitor "$s" "$me"
                    done
                ) &
                watch_server primary &
                exec redis-server "$@" --replica-announce-ip "$me"
            fi
        fi
        [ $((waited % 10)) -eq 0 ] &&
            say "waiting for a primary: $answered Sentinels answered, naming ${known:-none}, after ${waited} s"
        waited=$((waited + 1))
        sleep 1
    done
    ;;
sentinel)
    ask_sentinels
    [ -n "$known" ] && ! is_primary "$known" && known=""
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
CONF
    if [ -n "$known" ]; then
        cat >> "$conf" <<CONF
sentinel monitor $name $known 6379 $quorum
sentinel auth-pass $name "$secret"
sentinel down-after-milliseconds $name ${SENTINEL_DOWN_AFTER_MS:-5000}
sentinel failover-timeout $name ${SENTINEL_FAILOVER_TIMEOUT_MS:-10000}
sentinel parallel-syncs $name $parallel_syncs
CONF
        say "monitoring the primary $known as $me (myid $myid)"
    else
        say "no peer knows a primary yet: starting as $me (myid $myid), monitoring none"
    fi
    watch_sentinel &
    exec redis-server "$conf" --sentinel
    ;;
*)
    say "unknown mode $mode: say server or sentinel"
    exit 2
    ;;
esac
