# The benchmarks' store backend, sourced by the scripts in Tests/Bench/ (not run on its own).
#
#   BACKEND=sqlite       (default) each root's var/eventfilter.db
#   BACKEND=postgresql   a PostgreSQL server of the script's own, from the newest
#                        /usr/lib/postgresql/<version>/bin (Debian's postgresql package): initdb and
#                        pg_ctl into a temporary directory (as the postgres user when run as root,
#                        since PostgreSQL refuses to run as root), a Unix socket in that directory
#                        only, stopped and removed when the script exits. fsync and
#                        synchronous_commit stay ON (PostgreSQL's defaults): every commit reaches
#                        the disk, as SQLite's do, so the two are compared honestly.
#
# backend_start            starts the server (PostgreSQL only; call once, after WORK is set)
# backend_root ROOT        points ROOT (settings/ written already) at a fresh database of its own
# backend_shared ROOT NAME points ROOT at the database NAME, made on first use (several roots, one store)
# backend_sql ROOT SQL     prints the result of a query on ROOT's store (sqlite3 or psql; unaligned, no header)
# backend_size ROOT        the store's size on disk, human-readable
# backend_stop             stops the server (also done by the EXIT trap the scripts set)
BACKEND=${BACKEND:-sqlite}
case $BACKEND in sqlite|postgresql) ;; *) echo "BACKEND=$BACKEND: expected sqlite or postgresql" >&2; exit 2 ;; esac
PG_DIR=
PG_BIN=
PG_AS=()

backend_start() {
    [ "$BACKEND" = postgresql ] || return 0
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -x "$PG_BIN/initdb" ] || { echo "needs PostgreSQL's server: apt-get install postgresql" >&2; exit 1; }
    # Short: a Unix socket's path must fit in 107 bytes.
    PG_DIR=$(mktemp -d /tmp/ef-bench-pg.XXXXXX)
    chmod 755 "$PG_DIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_DIR"
        PG_AS=(runuser -u postgres --)
    fi
    "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
    cat >> "$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_DIR'
max_connections = 50
shared_buffers = 256MB
CONF
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null \
        || { tail -20 "$PG_DIR/server.log" >&2; exit 1; }
    echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on $PG_DIR (fsync $(backend_psql postgres -c 'SHOW fsync'), synchronous_commit $(backend_psql postgres -c 'SHOW synchronous_commit'))"
}

backend_stop() {
    [ -n "$PG_DIR" ] || return 0
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=
}

backend_psql() {  # DATABASE psql-arguments...
    local database=$1; shift
    "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -U postgres -d "$database" "$@"
}

backend_shared() {  # ROOT NAME
    [ "$BACKEND" = postgresql ] || return 0
    if [ -z "$(backend_psql postgres -c "SELECT 1 FROM pg_database WHERE datname = '$2'")" ]; then
        backend_psql postgres -c "CREATE DATABASE $2" >/dev/null
    fi
    mkdir -p "$1/settings/override"
    printf '[DatabaseSettings]\nBackend=postgresql\nConnectionString=host=%s user=postgres dbname=%s\n' "$PG_DIR" "$2" \
        > "$1/settings/override/site.ini.append.php"
    echo "$2" > "$1/.bench-database"
}

backend_root() {  # ROOT
    [ "$BACKEND" = postgresql ] || return 0
    # Named after the root's path, so that roots made in subshells get databases of their own too.
    backend_shared "$1" "bench_$(printf '%s' "$1" | sha256sum | cut -c1-16)"
}

backend_sql() {  # ROOT SQL
    if [ "$BACKEND" = postgresql ]; then
        backend_psql "$(cat "$1/.bench-database")" -c "$2"
    else
        sqlite3 -batch -noheader "$1/var/eventfilter.db" "$2"
    fi
}

backend_size() {  # ROOT
    if [ "$BACKEND" = postgresql ]; then
        backend_sql "$1" "SELECT pg_size_pretty(pg_database_size(current_database()))"
    else
        du -sh "$1/var/eventfilter.db" | cut -f1
    fi
}
