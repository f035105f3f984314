#!/usr/bin/env bash
# A PgBouncer in transaction mode in front of the local PostgreSQL (127.0.0.1:5432, trust
# authentication), for the test suites' pass through a pooler (.ci/run; docs/capacity.md).
#   scripts/pgbouncer.sh start DIR   writes DIR/pgbouncer.ini, starts PgBouncer on a free
#                                    local port, prints its URL (postgresql://127.0.0.1:PORT)
#   scripts/pgbouncer.sh stop DIR    stops the PgBouncer started with DIR
# Any database and any role of the server may be reached through it: the `*` entry
# forwards a database of the same name, and a role absent from the auth file is looked up
# with auth_query as the server's superuser; with auth_type trust, as the server itself
# trusts local connections, no password is asked. No startup parameter is ignored
# (ignore_startup_parameters stays empty): a client that sends one the pooler does not
# carry, such as statement_timeout, is refused, as it would be in production.
set -euo pipefail

command=${1:-}
dir=${2:-}
[ -n "$command" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

case "$command" in
  start)
    command -v pgbouncer >/dev/null || { echo "pgbouncer is not installed (apt-get install pgbouncer)" >&2; exit 1; }
    mkdir -p "$dir"
    port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
    printf '"postgres" ""\n' > "$dir/userlist.txt"
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
pool_mode = transaction
auth_type = trust
auth_file = $dir/userlist.txt
auth_user = postgres
max_client_conn = 1000
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
admin_users = postgres
INI
    # PgBouncer refuses to run as root: as root, it runs as the server's own user (the
    # Debian packages' postgres), or nobody.
    as=()
    if [ "$(id -u)" -eq 0 ]; then
      user=postgres
      id "$user" >/dev/null 2>&1 || user=nobody
      as=(-u "$user")
      chown -R "$user" "$dir"
    fi
    pgbouncer -d "${as[@]}" "$dir/pgbouncer.ini"
    for _ in $(seq 1 50); do
      pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres && break
      sleep 0.1
    done
    pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres || { echo "PgBouncer did not start:" >&2; cat "$dir/pgbouncer.log" >&2; exit 1; }
    echo "postgresql://127.0.0.1:$port"
    ;;
  stop)
    [ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
