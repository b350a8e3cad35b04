#!/bin/sh
# Start redis-server with the given arguments ("--save 1 1" alone means
# "redis-server --save 1 1"), as the official image does:
# - without a password, protected mode would refuse every client outside the
#   container, so it is turned off unless the arguments set it (the container
#   network is the boundary, as for the official redis image);
# - with REDIS_PASSWORD_FILE (default /run/secrets/redis_password) naming a
#   non-empty file, requirepass is set from it through standard input, never on
#   the command line where `ps` would show it.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" != "redis-server" ]; then
    exec "$@"
fi

password_file=${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}
password=""
if [ -r "$password_file" ]; then
    password=$(cat "$password_file")
fi

case " $* " in
    *" --protected-mode "*) ;;
    *) [ -n "$password" ] || set -- "$@" --protected-mode no ;;
esac

if [ -n "$password" ]; then
    shift
    quoted=$(printf '%s' "$password" | sed 's/[\\"]/\\&/g')
    exec redis-server - "$@" <<CONFIG
requirepass "$quoted"
CONFIG
fi
exec "$@"
