#!/usr/bin/env bash
# A throwaway PostgreSQL for a shared state backend (`state.backend: postgres://...`), for tests and trials.
#   scripts/postgres.sh start   # prints the backend URL (never with the password)
#   scripts/postgres.sh stop    # stops it and deletes its data
# The user `meshinstall` logs in with a password (scram-sha-256), generated into $dir/password: point the spec's
# `state.password: {fromFile: ...}` at that file, or export PGPASSWORD=$(cat "$dir/password").
# It runs as the unprivileged `postgres` user (or the current one when not root), on a free loopback port, with its
# data in a temporary folder, ${MESHINSTALL_POSTGRES_DIR:-${TMPDIR:-/tmp}/meshinstall-postgres} (the `postgres` user
# must be able to reach it, which rules out root's home). Debian's `postgresql` is installed if missing.
set -euo pipefail
dir="${MESHINSTALL_POSTGRES_DIR:-${TMPDIR:-/tmp}/meshinstall-postgres}"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ]; then
  echo "postgres.sh: installing Debian's postgresql" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      python3 -c 'import secrets; print(secrets.token_urlsafe(18))' > "$dir/password"
      [ "$(id -u)" = 0 ] && chown postgres: "$dir/password"
      chmod 600 "$dir/password"
      as_owner "$bin/initdb" -D "$dir/data" -U meshinstall --auth=scram-sha-256 --pwfile="$dir/password" >/dev/null
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start >/dev/null
      echo "$port" > "$dir/port"
      PGPASSWORD=$(cat "$dir/password") as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U meshinstall meshinstall
    fi
    echo "postgres.sh: the password of user meshinstall is in $dir/password" >&2
    echo "postgres://meshinstall@127.0.0.1:$(cat "$dir/port")/meshinstall?sslmode=disable"
    ;;
  stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
