#!/bin/sh
# Read a Redis snapshot (RDB) given on standard input, in a throwaway
# container of the stack's Redis image with no network: check it with
# redis-check-rdb, load it into a Redis of its own on a Unix socket, and
# print what it holds as one JSON object.
#   read-snapshot.sh COUNTER-KEY RECORDS-INDEX-KEY < dump.rdb
set -eu
counter_key=$1
index_key=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > dump.rdb
if ! checked=$(redis-check-rdb dump.rdb 2>&1); then
    echo "redis-check-rdb refuses the snapshot: $(echo "$checked" | tail -n 3)" >&2
    exit 3
fi
aux() { echo "$checked" | sed -n "s/.*AUX FIELD $1 = '\(.*\)'.*/\1/p" | head -n 1; }
redis-server --port 0 --unixsocket "$work/read.sock" --dir "$work" --dbfilename dump.rdb \
    --appendonly no --save '' --daemonize yes --logfile "$work/read.log" --pidfile "$work/read.pid"
cli() { redis-cli -s "$work/read.sock" "$@"; }
tries=0
until cli PING 2>/dev/null | grep -q PONG; do
    tries=$((tries + 1))
    [ "$tries" -lt 3000 ] || { echo "the snapshot did not load in 10 min: $(tail -n 3 "$work/read.log")" >&2; exit 4; }
    sleep 0.2
done
counter=$(cli GET "$counter_key")
printf '{"redis_version": "%s", "ctime": %s, "counter": %s, "records": %s, "keys": %s}\n' \
    "$(aux redis-ver)" "$(aux ctime)" "${counter:-0}" "$(cli ZCARD "$index_key")" "$(cli DBSIZE)"
cli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
tries=0
while [ -e "$work/read.pid" ] && [ "$tries" -lt 100 ]; do tries=$((tries + 1)) && sleep 0.1; done
