#!/usr/bin/env bash
# Usage: tests/servers/mariadb.sh start DIR PORT | stop DIR
# A real MariaDB server (Debian's) for the tests, on a data directory of its own, listening on 127.0.0.1:PORT and
# on the socket DIR/mysqld.sock (no systemd here). It runs as the system user mysql, which must reach DIR. root
# logs in over the socket as the OS user root (unix_socket); every other account with a password. Starting a
# running server does nothing.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?the server directory}
socket=$dir/mysqld.sock
running() { [ -f "$dir/mysqld.pid" ] && kill -0 "$(cat "$dir/mysqld.pid")" 2>/dev/null; }
case $action in
  start)
    port=${3:?the port}
    running && exit 0
    mkdir -p "$dir"
    chown mysql: "$dir"
    chmod 0700 "$dir"
    if [ ! -d "$dir/data/mysql" ]; then
      mariadb-install-db --no-defaults --user=mysql --datadir="$dir/data" --auth-root-authentication-method=socket \
        --skip-test-db >"$dir/install.log" 2>&1
    fi
    setsid mariadbd --no-defaults --user=mysql --datadir="$dir/data" --socket="$socket" --port="$port" \
      --bind-address=127.0.0.1 --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
      --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 120); do
      if mariadb-admin --no-defaults --socket="$socket" -u root ping >/dev/null 2>&1; then exit 0; fi
      sleep 0.5
    done
    # The log says why (a port in use, a data directory it cannot reach): CI shows only what is printed.
    echo "mariadb did not start on port $port; the end of $dir/error.log:" >&2
    tail -n 20 "$dir/error.log" >&2 2>/dev/null || echo "(no error.log: mariadbd did not run)" >&2
    exit 1
    ;;
  stop)
    if running; then
      pid=$(cat "$dir/mysqld.pid")
      kill "$pid"
      for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.5; done
      echo "mariadb did not stop" >&2
      exit 1
    fi
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
