#!/usr/bin/env bash
# Stage "filter": `eventfilter run` in digest mode, EVENTS events x USERS digest subscribers (every
# subscriber follows every event, so EVENTS x USERS digest items), next to its floor in the same
# run: the database's own client (sqlite3 / psql) inserting the same item rows into the same table
# with one set-based INSERT ... SELECT.
#   Tests/Bench/stage_filter.sh [EVENTS] [USERS]   (default 10000 x 100: 1M digest items)
#   BACKEND=postgresql Tests/Bench/stage_filter.sh  the store in a PostgreSQL server of the script's own
# Prints the run's wall time and peak RSS (GNU time), the floor's time, and a FLOOR line
# (Tests/Bench/floor.sh). EVENTFILTER=/path/to/eventfilter uses that binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
source Tests/Bench/floor.sh
EVENTS=${1:-10000}
USERS=${2:-100}
fixture_binary
ROOT=$(mktemp -d /tmp/eventfilter-stage-filter.XXXXXX)
trap 'backend_stop; [ -n "${KEEP_ROOT:-}" ] || rm -rf "$ROOT"' EXIT
backend_start
fixture_root "$ROOT"
echo "stage filter ($BACKEND): $EVENTS events x $USERS digest subscribers; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
NOW=2026-05-04T10:00:00Z
ef() { "$EF" --root "$ROOT" --now "$NOW" "$@"; }
fixture_users "$ROOT" "$USERS" digest
fixture_events "$EVENTS" > "$ROOT/events.jsonl"
ef event import "$ROOT/events.jsonl" >/dev/null

# Ours: the whole cron run (start-up, the tick, the filter, purges, an empty delivery).
/usr/bin/time -f "%e %U %S %M" -o "$ROOT/run.time" "$EF" --root "$ROOT" --now "$NOW" run --verbose
read -r OURS USER_S SYS_S PEAK_KIB < "$ROOT/run.time"
ITEMS=$(backend_sql "$ROOT" "SELECT count(*) FROM digest_item")
EXPECTED=$((EVENTS * USERS))
[ "$ITEMS" = "$EXPECTED" ] || { echo "the run made $ITEMS digest items, expected $EXPECTED" >&2; exit 1; }
echo "ours: $OURS s wall ($USER_S s user, $SYS_S s system), peak RSS $((PEAK_KIB / 1024)) MiB, $ITEMS digest items"

# The floor: a copy of the store after the run, its digest items kept aside in a table of their own
# and removed, then inserted again by one INSERT ... SELECT in the order the run wrote them (by
# content, that is by event, then by reader) into the same table, with the same indexes, foreign
# keys and durability as the run's.
INSERT="INSERT INTO digest_item(user_id, content_id, send_at) SELECT user_id, content_id, send_at FROM floor_rows ORDER BY content_id, user_id"
if [ "$BACKEND" = postgresql ]; then
    FLOOR_DB=floor_$(cat "$ROOT/.bench-database")
    backend_psql postgres -c "CREATE DATABASE $FLOOR_DB TEMPLATE $(cat "$ROOT/.bench-database")"
    backend_psql "$FLOOR_DB" -c "CREATE TABLE floor_rows AS SELECT user_id, content_id, send_at FROM digest_item" \
        -c "TRUNCATE digest_item" -c "VACUUM ANALYZE"
    exec 4>&1
    FLOOR=$(floor_seconds backend_psql "$FLOOR_DB" -c "$INSERT" 3>&1 >&4)
    FLOOR_CPU="the server's (not measured)"
    FLOOR_ITEMS=$(backend_psql "$FLOOR_DB" -c "SELECT count(*) FROM digest_item")
else
    DB="$ROOT/var/eventfilter.db"
    sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    cp "$DB" "$ROOT/floor.db"
    sqlite3 "$ROOT/floor.db" "CREATE TABLE floor_rows AS SELECT user_id, content_id, send_at FROM digest_item;
        DELETE FROM digest_item; VACUUM;"
    exec 4>&1
    FLOOR=$(floor_seconds /usr/bin/time -f "%U %S" -o "$ROOT/floor.time" sqlite3 "$ROOT/floor.db" "PRAGMA journal_mode=WAL;
        PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; BEGIN IMMEDIATE; $INSERT; COMMIT;" 3>&1 >/dev/null)
    read -r FLOOR_USER FLOOR_SYS < "$ROOT/floor.time"
    FLOOR_CPU="$FLOOR_USER s user, $FLOOR_SYS s system"
    FLOOR_ITEMS=$(sqlite3 "$ROOT/floor.db" "SELECT count(*) FROM digest_item")
fi
[ "$FLOOR_ITEMS" = "$EXPECTED" ] || { echo "the floor inserted $FLOOR_ITEMS rows, expected $EXPECTED" >&2; exit 1; }
# On a loaded machine the processor times tell more than the wall times (sqlite3 works in its own
# process; PostgreSQL's work is the server's, so only the wall time counts there).
echo "floor: $FLOOR s wall ($FLOOR_CPU) for the same $FLOOR_ITEMS rows in one INSERT ... SELECT"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
floor_time filter "$OURS" "$FLOOR" 3 "$EVENTS x $USERS digest items; peak RSS $((PEAK_KIB / 1024)) MiB"
