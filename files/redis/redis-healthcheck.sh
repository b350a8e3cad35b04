#!/bin/sh
# Healthy when redis-server answers PING: PONG, or NOAUTH when it wants a password
# this check does not have. The password, if any, comes from REDIS_PASSWORD_FILE
# (default /run/secrets/redis_password) through REDISCLI_AUTH, not the command line.
password_file=${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}
if [ -r "$password_file" ]; then
    REDISCLI_AUTH=$(cat "$password_file")
    export REDISCLI_AUTH
fi
reply=$(redis-cli -h 127.0.0.1 -p "${REDIS_PORT:-6379}" ping 2>&1) || true
case "$reply" in
    PONG | NOAUTH* | *"NOAUTH "*) exit 0 ;;
    *) echo "redis-server did not answer PING: $reply"; exit 1 ;;
esac
