#!/bin/sh
# redis-cli against the Redis server of the container this runs in, logged in
# with the stack's password as the container has it: the redis_password
# secret (replicated stack), else the requirepass line of the redis.conf
# secret (a single Redis), unescaped as redis.conf.j2 escaped it. The
# password goes through the environment, never on a command line.
#
#   redis-cli.sh REDIS-CLI-ARGS...
#   redis-cli.sh --state COUNTER-KEY RECORDS-INDEX-KEY
#
# --state prints the server's role, its link to its primary, its counter and
# its number of records as one JSON object (values as strings: a server
# still loading answers an error instead of a number).
set -eu
if [ -r /run/secrets/redis_password ]; then
    REDISCLI_AUTH=$(cat /run/secrets/redis_password)
else
    REDISCLI_AUTH=$(sed -n 's/^requirepass "\(.*\)"$/\1/p' /run/secrets/redis.conf | sed 's/\\\(.\)/\1/g')
fi
export REDISCLI_AUTH
cli() { redis-cli --no-auth-warning -h 127.0.0.1 -p 6379 "$@" 2>&1 | tr -d '\r"\\'; }
if [ "${1:-}" != --state ]; then
    exec redis-cli --no-auth-warning -h 127.0.0.1 -p 6379 "$@"
fi
info=$(cli INFO replication)
field() { echo "$info" | sed -n "s/^$1://p" | head -n 1; }
printf '{"role": "%s", "link": "%s", "syncing": "%s", "replicas": "%s", "counter": "%s", "records": "%s"}\n' \
    "$(field role)" "$(field master_link_status)" "$(field master_sync_in_progress)" \
    "$(field connected_slaves)" "$(cli GET "$2" | head -n 1)" "$(cli ZCARD "$3" | head -n 1)"
