#!/usr/bin/env bash
# A throwaway PostgreSQL for a shared state backend (`state.backend: postgres://...`), for tests and trials.
#   scripts/postgres.sh start   # prints the backend URL (no password: loopback clients are trusted)
#   scripts/postgres.sh stop    # stops it and deletes its data
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
      as_owner "$bin/initdb" -D "$dir/data" -U meshinstall --auth=trust >/dev/null
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start >/dev/null
      echo "$port" > "$dir/port"
      as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U meshinstall meshinstall
    fi
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
