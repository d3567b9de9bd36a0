#!/usr/bin/env bash
# The import stage next to its floor, on one backend (BACKEND=sqlite or postgresql), one run.
#   Tests/Bench/stage_import.sh [EVENTS]   (default 100,000 JSON lines)
# Ours: `eventfilter event import` of EVENTS ezpublish events (one JSON line each, as
# kernel_bench.sh makes them) into a fresh store, then the same with a dedupe key on every line.
# Floor, on the same lines into the same table of a fresh store of the same schema:
#   SQLite      sqlite3 running one INSERT ... SELECT over json_each of the lines (as one JSON array)
#   PostgreSQL  psql's \copy of the same rows (type, params, created_at), one COPY
# Prints the load before and after, and FLOOR lines (Tests/Bench/floor.sh).
# EVENTFILTER=/path/to/eventfilter uses that binary instead of a fresh release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
source Tests/Bench/floor.sh
EVENTS=${1:-100000}
fixture_binary
echo "binary: $EF; $EVENTS events; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
WORK=$(mktemp -d /tmp/eventfilter-stage-import.XXXXXX)
chmod 755 "$WORK"
trap 'backend_stop; rm -rf "$WORK"' EXIT
backend_start
echo "backend: $BACKEND"
NOW=2026-05-04T10:00:00Z
NOW_UNIX=$(date -d "$NOW" +%s)

make_root() {
    fixture_root "$1"
    "$EF" --root "$1" --now "$NOW" db migrate >/dev/null   # the store and its schema, outside the timing
}

# The lines; the same rows as one JSON array (SQLite's floor) and as COPY text (PostgreSQL's).
python3 - "$EVENTS" "$WORK" "$NOW_UNIX" <<'PY'
import json, sys
events, work, now = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def copy_text(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
with open(f"{work}/events.jsonl", "w") as lines, open(f"{work}/keyed.jsonl", "w") as keyed, \
        open(f"{work}/events.json", "w") as array, open(f"{work}/events.copy", "w") as copy:
    array.write("[")
    for i in range(events):
        node = 1000 + i
        params = {"node_id": str(node), "path": f"/1/2/60/{node}/", "name": f"Article number {i}",
                  "class": "Article", "version": "1", "author": "someone@example.com"}
        line = json.dumps({"type": "ezpublish", "params": params})
        lines.write(line + "\n")
        keyed.write(json.dumps({"type": "ezpublish", "key": f"bench:{i}", "params": params}) + "\n")
        array.write(("," if i else "") + line)
        stored = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        copy.write(f"ezpublish\t{copy_text(stored)}\t{now}\n")
    array.write("]")
PY

exec 3>"$WORK/seconds"
ours() {  # NAME FILE: seconds of `event import` into a fresh store
    make_root "$WORK/$1"
    floor_seconds "$EF" --root "$WORK/$1" --now "$NOW" event import "$2" >/dev/null
    echo "   $1: stored $(backend_sql "$WORK/$1" "SELECT count(*) FROM event") events ($(backend_sql "$WORK/$1" "SELECT count(*) FROM dedupe_key") keys)"
}
floor() {  # NAME: seconds of the floor's insert of the same rows into a fresh store
    make_root "$WORK/$1"
    if [ "$BACKEND" = postgresql ]; then
        floor_seconds backend_psql "$(cat "$WORK/$1/.bench-database")" \
            -c "\\copy event(type, params, created_at) FROM '$WORK/events.copy'"
    else
        floor_seconds sqlite3 -batch "$WORK/$1/var/eventfilter.db" \
            "INSERT INTO event(type, params, created_at) SELECT json_extract(value, '\$.type'), json(json_extract(value, '\$.params')), $NOW_UNIX FROM json_each(readfile('$WORK/events.json'))"
    fi
    echo "   $1: stored $(backend_sql "$WORK/$1" "SELECT count(*) FROM event") events"
}
seconds() { tail -1 "$WORK/seconds"; }

# Best of three each, interleaved, so that a burst of load from elsewhere hits both alike.
best_ours=; best_keyed=; best_floor=
for attempt in 1 2 3; do
    floor "floor$attempt"; f=$(seconds)
    ours "ours$attempt" "$WORK/events.jsonl"; o=$(seconds)
    ours "keyed$attempt" "$WORK/keyed.jsonl"; k=$(seconds)
    echo "attempt $attempt: ours $o s, with keys $k s, floor $f s (load $(cut -d' ' -f1 /proc/loadavg))"
    best_ours=$(python3 -c "print(min(float(x) for x in '$best_ours $o'.split()))")
    best_keyed=$(python3 -c "print(min(float(x) for x in '$best_keyed $k'.split()))")
    best_floor=$(python3 -c "print(min(float(x) for x in '$best_floor $f'.split()))")
done
rate() { python3 -c "print($EVENTS / max(float('$1'), 1e-6))"; }
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
floor_rate import "$(rate "$best_ours")" "$(rate "$best_floor")" 0.5 "$EVENTS lines, best of 3"
floor_rate import-keys "$(rate "$best_keyed")" "$(rate "$best_floor")" 0.5 "$EVENTS lines with a dedupe key each; floor without keys"
