#!/usr/bin/env bash
# The digest stage next to its floor: the digest run (`eventfilter run` at the digests' time) of
# USERS users x ITEMS items each, against sqlite3 / psql reading the same joined rows the digest
# reads (digest_item joined to content, each item's staleness checked against subtree_rule and
# deleted_node, user by user) into /dev/null.
#   Tests/Bench/stage_digest.sh [USERS] [ITEMS]    (default 100 x 10,000: 1M digest items)
#   BACKEND=postgresql Tests/Bench/stage_digest.sh  the store in a PostgreSQL server of its own
#   EVENTFILTER=/path/to/eventfilter                that binary instead of a fresh release build
# The items are made by the product itself (ITEMS ezpublish events imported and filtered in digest
# mode); a copy of the store taken before the digest run serves the floor, so both read the same
# rows. Prints the wall time and peak RSS (GNU time %M) of the digest run, then the FLOOR line.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
source Tests/Bench/floor.sh
USERS=${1:-100}
ITEMS=${2:-10000}
fixture_binary
ROOT=$(mktemp -d /tmp/eventfilter-digest.XXXXXX)
trap 'backend_stop; [ -n "${KEEP_ROOT:-}" ] || rm -rf "$ROOT"' EXIT
backend_start
fixture_root "$ROOT"
echo "digest stage ($BACKEND): $USERS users x $ITEMS items; $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
NOW=2026-05-04T10:00:00Z
TICK=2026-05-05T06:00:00Z      # after every user's 08:00 Europe/Oslo digest time
ef() { "$EF" --root "$ROOT" --now "$NOW" "$@"; }
fixture_users "$ROOT" "$USERS" digest 2
fixture_events "$ITEMS" ' <Q&A> "special"' > "$ROOT/events.jsonl"
ef event import "$ROOT/events.jsonl" >/dev/null
/usr/bin/time -f "setup filter: %e s" "$EF" --root "$ROOT" --now "$NOW" run >/dev/null
items=$(backend_sql "$ROOT" "SELECT count(*) FROM digest_item")
echo "made: $items digest items for $(backend_sql "$ROOT" "SELECT count(DISTINCT user_id) FROM digest_item") users"
[ "$items" -eq $((USERS * ITEMS)) ] || { echo "expected $((USERS * ITEMS)) digest items" >&2; exit 1; }

# The floor's copy of the store, taken before the digest run removes the items.
if [ "$BACKEND" = postgresql ]; then
    FLOOR_DB="$(cat "$ROOT/.bench-database")_floor"
    backend_psql postgres -c "CREATE DATABASE $FLOOR_DB TEMPLATE $(cat "$ROOT/.bench-database")" >/dev/null
else
    sqlite3 "$ROOT/var/eventfilter.db" "VACUUM INTO '$ROOT/floor.db'"
fi

/usr/bin/time -f "digest run: %e s wall, %U s user, %S s system, peak %M KiB" -o "$ROOT/digest.time" \
    "$EF" --root "$ROOT" --now "$TICK" run --verbose
cat "$ROOT/digest.time"
OURS=$(awk '/^digest run:/ { print $3 }' "$ROOT/digest.time")
RSS=$(awk '/^digest run:/ { print $(NF-1) }' "$ROOT/digest.time")
left=$(backend_sql "$ROOT" "SELECT count(*) FROM digest_item")
sent=$(find "$ROOT/var/log/mail" -name '*.eml' | wc -l)
echo "after: $sent digests written, $left digest items left, $(backend_sql "$ROOT" "SELECT count(*) FROM content") contents left"
[ "$left" -eq 0 ] && [ "$sent" -eq "$USERS" ] || { echo "expected $USERS digests and no items left" >&2; exit 1; }

# The floor: the rows the digest reads, user by user (the same join and staleness check), read
# whole by the database's own client.
TICK_EPOCH=$(date -d "$TICK" +%s)
floor_sql() {  # the path list: SQLite's json_each, PostgreSQL's json_array_elements_text
    local nodes=$1
    for i in $(seq 1 "$USERS"); do
        cat <<SQL
SELECT i.content_id, c.id, c.handler, c.source, c.node_id, coalesce(c.item_name, c.subject), c.item_url,
       coalesce(c.happened_at, c.created_at),
       CASE WHEN (c.handler = 'ezsubtree' AND c.path IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM $nodes JOIN subtree_rule AS r ON r.node_id = p.value AND r.user_id = i.user_id))
       OR (c.path IS NOT NULL AND EXISTS (
           SELECT 1 FROM $nodes JOIN deleted_node AS d ON d.node_id = p.value
            AND d.deleted_at > coalesce(c.happened_at, c.created_at)))
       THEN 1 ELSE 0 END
FROM digest_item AS i JOIN content AS c ON c.id = i.content_id
WHERE i.user_id = (SELECT id FROM "user" WHERE email = 'user$i@example.com') AND i.send_at <= $TICK_EPOCH
ORDER BY c.event_id, c.id;
SQL
    done
}
if [ "$BACKEND" = postgresql ]; then
    floor_sql "json_array_elements_text(c.path::json) AS p(value)" > "$ROOT/floor.sql"
    FLOOR=$(floor_seconds backend_psql "$FLOOR_DB" -f "$ROOT/floor.sql" 3>&1 >"$ROOT/floor.out")
else
    floor_sql "json_each(c.path) AS p" > "$ROOT/floor.sql"
    FLOOR=$(floor_seconds sqlite3 -batch "$ROOT/floor.db" ".read $ROOT/floor.sql" 3>&1 >"$ROOT/floor.out")
fi
echo "floor: $FLOOR s, $(wc -l < "$ROOT/floor.out") rows read"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
floor_time digest "$OURS" "$FLOOR" 5 "$USERS x $ITEMS items; peak RSS $((RSS / 1024)) MB (aim < 64 MB)"
