#!/usr/bin/env bash
# Usage: tests/servers/postgresql.sh start DIR PORT | stop DIR
# A real PostgreSQL server (Debian's) for the tests, on a data directory of its own, listening on 127.0.0.1:PORT
# and on a Unix socket in DIR (no systemd here). It runs as the system user postgres, which must reach DIR. The
# local socket trusts the postgres role (the tests' administrator); every other role, and every TCP connection,
# logs in with a password (scram-sha-256). Starting a running server does nothing.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?the server directory}
bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() { runuser -u postgres -- "$@"; }
case $action in
  start)
    port=${3:?the port}
    if [ -f "$dir/data/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null; then
      exit 0
    fi
    mkdir -p "$dir"
    chown postgres: "$dir"
    chmod 0700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
      {
        echo "local all postgres trust"
        echo "local all all scram-sha-256"
        echo "host all all 127.0.0.1/32 scram-sha-256"
      } >"$dir/data/pg_hba.conf"
    fi
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off" >/dev/null
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
