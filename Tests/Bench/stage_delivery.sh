#!/usr/bin/env bash
# Stage "delivery" alone: `eventfilter mail flush` writing EVENTS x USERS queued messages through
# the file transport, next to its floor, the C program that writes the same files the way the
# transport must (Tests/Bench/floor_write_files.c: tmp + rename, syncfs per 500). The messages are
# queued and written once by `eventfilter run`; each round then puts them back in the queue and
# delivers them again. Rounds alternate which goes first (ours, floor; floor, ours).
#   Tests/Bench/stage_delivery.sh [EVENTS] [USERS] [ROUNDS]   (default 1000 x 100 = 100k, 2 rounds)
#   BACKEND=postgresql Tests/Bench/stage_delivery.sh ...     (Tests/Bench/backend.sh)
# Each side writes each round's files into a new, empty file system of its own of the kind /tmp
# is (fixture_fresh_fs in Tests/Bench/fixture.sh): ext4 without a journal (as on the benchmark
# machine) will not reuse an inode freed less than 60 s ago, or 360 s while its inode-table block
# is not yet written back, and walks past each such inode on every file it creates, so files
# created near a mass deletion cost 2-4x the kernel CPU, for ours and the floor alike, but not
# alike for both unless both meet it. Without root, nothing is deleted between rounds (each
# round's files are moved aside) and the note says so.
# Prints per round the wall and CPU seconds of both, the PostgreSQL server's CPU during ours
# (its backend's, reaped by the postmaster), and a FLOOR line of the last round (Tests/Bench/floor.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
source Tests/Bench/floor.sh
EVENTS=${1:-1000}
USERS=${2:-100}
ROUNDS=${3:-2}
fixture_binary
ROOT=$(mktemp -d /tmp/ef-stage-delivery.XXXXXX)
trap 'fixture_fresh_fs_cleanup; backend_stop; [ -n "${KEEP_ROOT:-}" ] || rm -rf "$ROOT"' EXIT
backend_start
fixture_immediate "$ROOT" "$EVENTS" "$USERS"
NOW=$FIXTURE_NOW
ef() { "$EF" --root "$ROOT" --now "$NOW" "$@"; }
ef run >/dev/null
MAIL="$ROOT/var/log/mail"
mv "$MAIL" "$ROOT/source"
MESSAGES=$((EVENTS * USERS))
echo "backend: $BACKEND; $MESSAGES messages, file transport, delivery alone"

ours() {
    local before
    before=$(server_cpu)
    exec 3>"$ROOT/ours.seconds"
    floor_seconds /usr/bin/time -o "$ROOT/ours.time" -f "%U %S" "$EF" --root "$ROOT" --now "$NOW" mail flush >/dev/null
    exec 3>&-
    sleep 1  # the server's backend exits and is reaped after the client has gone
    OURS=$(cat "$ROOT/ours.seconds")
    local files
    files=$(find "$MAIL" -name '*.eml' | wc -l)
    [ "$files" -eq "$MESSAGES" ] || { echo "expected $MESSAGES files, found $files" >&2; exit 1; }
    echo "ours: $OURS s wall, $(python3 -c "import sys; print(f'{sum(map(float, sys.argv[1:])):.2f}')" $(cat "$ROOT/ours.time")) s CPU (user system: $(cat "$ROOT/ours.time")); server CPU $(python3 -c "print(f'{$(server_cpu) - $before:.2f}')") s"
}
floor() {
    read -r FLOOR FLOOR_CPU FLOOR_SYSTEM < <("$ROOT/floor_write_files" "$ROOT/source" "$ROOT/floor-mail" 2>/dev/null)
    echo "floor: $FLOOR s wall, $FLOOR_CPU s CPU ($FLOOR_SYSTEM s system)"
}
for round in $(seq "$ROUNDS"); do
    backend_sql "$ROOT" "UPDATE outbox SET state = 'queued', attempts = 0, sent_at = NULL, last_error = NULL, next_attempt_at = created_at" >/dev/null
    # The run that claimed them has ended; the claim goes with the state it guarded.
    [ "$BACKEND" != postgresql ] || backend_sql "$ROOT" "UPDATE outbox SET claimed_by = NULL" >/dev/null
    fixture_fresh_fs_cleanup  # the previous round's file systems, images and all
    [ ! -d "$MAIL" ] || mv "$MAIL" "$MAIL.$round"
    [ ! -d "$ROOT/floor-mail" ] || mv "$ROOT/floor-mail" "$ROOT/floor-mail.$round"
    if fixture_fresh_fs "$MAIL" "$MESSAGES" && fixture_fresh_fs "$ROOT/floor-mail" "$MESSAGES"; then
        echo "round $round, load $(cut -d' ' -f1-3 /proc/loadavg); each side writes into a new ext4 file system of its own"
    else
        fixture_fresh_fs_cleanup
        mkdir -p "$MAIL" "$ROOT/floor-mail"
        echo "round $round, load $(cut -d' ' -f1-3 /proc/loadavg); both write under /tmp (no loop device: needs root)"
    fi
    if [ $((round % 2)) = 1 ]; then ours; floor; else floor; ours; fi
done
floor_time delivery "$OURS" "$FLOOR" 1.2 "$MESSAGES messages, files only in the floor; load $(cut -d' ' -f1 /proc/loadavg)"
