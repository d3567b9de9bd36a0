#!/usr/bin/env bash
# Delivery against a dead SMTP server: MESSAGES queued messages, the server's port closed, so the
# first connection is refused, delivery is suspended for the run and every other message is
# recorded deferred as not tried. Times the run's delivery stage (wall seconds) and, on PostgreSQL,
# counts the transactions that wrote during the run (transaction ids handed out), for
# MaxConnections 1 and 4, each binary in turn, REPEAT rounds.
#   Tests/Bench/smtp_suspended.sh [MESSAGES]            (default 10000)
#   BACKEND=postgresql Tests/Bench/smtp_suspended.sh   a PostgreSQL server of the script's own, fsync on
#   BINARIES="/tmp/a /tmp/b"                            the eventfilter binaries compared (default: a release build)
#   REPEAT=3
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
MESSAGES=${1:-10000}
USERS=$(( MESSAGES / 100 ))
REPEAT=${REPEAT:-3}
if [ -z "${BINARIES:-}" ]; then fixture_binary; BINARIES=$EF; fi
WORK=$(mktemp -d /tmp/ef-smtp-suspended.XXXXXX)
chmod 755 "$WORK"
trap 'backend_stop; rm -rf "$WORK"' EXIT
backend_start
# A port nothing listens on: bound, then closed.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "backend: $BACKEND; $MESSAGES messages; closed port $PORT; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

commits() {  # ROOT -> transactions that wrote so far (PostgreSQL; SQLite has no such count once its log is checkpointed at exit: "-")
    if [ "$BACKEND" = postgresql ]; then backend_sql "$1" "SELECT txid_current()"; else echo 0; fi
}

requeue() {  # ROOT
    backend_sql "$1" "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = 0, last_attempt_at = NULL, last_error = NULL" >/dev/null
}

index=0
for ef in $BINARIES; do
    index=$(( index + 1 ))
    for connections in 1 4; do
        EF=$ef
        root="$WORK/b$index-c$connections"
        fixture_root "$root" Transport=SMTP TransportServer=127.0.0.1 "TransportPort=$PORT" "MaxConnections=$connections"
        fixture_queue "$root" "$USERS"
        "$EF" --root "$root" --now 2026-05-04T10:00:00Z run >/dev/null  # the filter's work done
    done
done
for round in $(seq 1 "$REPEAT"); do
    index=0
    for ef in $BINARIES; do
        index=$(( index + 1 ))
        for connections in 1 4; do
            root="$WORK/b$index-c$connections"
            requeue "$root"
            before=$(commits "$root")
            line=$("$ef" --root "$root" --now 2026-05-04T10:00:00Z run --verbose | grep -E '^delivered ' || true)
            after=$(commits "$root")
            deferred=$(backend_sql "$root" "SELECT count(*) FROM outbox WHERE state = 'deferred'")
            echo "round $round $ef MaxConnections=$connections: $line; deferred $deferred; commits $([ "$BACKEND" = postgresql ] && echo $(( after - before - 1 )) || echo -)"
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
