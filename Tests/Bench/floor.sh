# How a stage benchmark reports itself next to its floor, sourced by the stage scripts in
# Tests/Bench/ (not run on its own). A floor is the same work done by the tool that sets the limit
# (sqlite3 or psql running the set-based statements, Postfix's smtp-source, a C program, a Swift
# hello world), measured in the same run on the same machine, so that load and disk affect both.
#
# floor_time STAGE OURS_SECONDS FLOOR_SECONDS AIM [NOTE]   a duration: ratio = ours / floor, aim "<= AIM"
# floor_rate STAGE OURS_PER_S FLOOR_PER_S AIM [NOTE]       a rate: ratio = ours / floor, aim ">= AIM"
# floor_seconds COMMAND...                                 runs COMMAND, prints its wall seconds on fd 3
# cpu_of PID                                               CPU seconds of PID, its reaped and live children
# server_cpu                                               CPU seconds of the PostgreSQL server (0 on SQLite)
# per_message BEFORE AFTER                                 AFTER - BEFORE seconds, in us per $MESSAGES
# window_floor NAME CONNECTIONS SIZE WINDOW [PREFIX...]    the SMTP window floor (floor_smtp_window.c) on
#                                                          $WORK/NAME's store: its rate and CPU per message
#
# floor_time and floor_rate each print one line that Tests/Bench/floors_bench.sh collects into the
# README's table:
#   FLOOR|stage|backend|ours|floor|ratio|aim|at aim: yes/no|note
BACKEND=${BACKEND:-sqlite}

floor_line() {  # KIND STAGE OURS FLOOR AIM NOTE
    python3 - "$@" "$BACKEND" <<'PY'
import sys
kind, stage, ours, floor, aim, note, backend = sys.argv[1:8]
ours, floor, aim = float(ours), float(floor), float(aim)
ratio = ours / floor if floor > 0 else float("inf")
def duration(seconds):  # milliseconds below one second (a process start), else seconds
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"
if kind == "time":
    shown = (duration(ours), duration(floor), f"{ratio:.2f}x", f"<= {aim:g}x")
    met = ratio <= aim
else:
    shown = (f"{ours:,.0f}/s", f"{floor:,.0f}/s", f"{ratio:.2f}x", f">= {aim:g}x")
    met = ratio >= aim
print("FLOOR|" + "|".join([stage, backend, *shown, "yes" if met else "no", note]))
PY
}

floor_time() { floor_line time "$1" "$2" "$3" "$4" "${5:-}"; }
floor_rate() { floor_line rate "$1" "$2" "$3" "$4" "${5:-}"; }

floor_seconds() {  # COMMAND... ; the wall time in seconds goes to fd 3, the command's output where it went
    local start end
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$start" "$end" >&3
}

cpu_of() {  # PID -> CPU seconds (user + system) of PID, the children it reaped, and its live children
    python3 - "$1" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid):  # utime stime cutime cstime: fields 14-17 of /proc/PID/stat, 12-15 after the name
    with open(f"/proc/{pid}/stat") as f:
        return sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:15])
pid = int(sys.argv[1])
total = cpu(pid)
for child in os.popen(f"ps -o pid= --ppid {pid}").read().split():
    try: total += cpu(int(child))
    except OSError: pass
print(total / tick)
PY
}

server_cpu() {  # -> CPU seconds of the PostgreSQL server so far, its exited backends included (0 on SQLite)
    if [ "$BACKEND" = postgresql ]; then cpu_of "$(head -1 "$PG_DIR/data/postmaster.pid")"; else echo 0; fi
}

per_message() {  # BEFORE AFTER -> microseconds per message (MESSAGES of them)
    python3 -c "print(round(($2 - $1) * 1e6 / $MESSAGES))"
}

window_floor() {  # NAME CONNECTIONS SIZE WINDOW [PREFIX...] -> "messages/second us-program us-sink us-server"
    # of $WORK/floor_smtp_window (fixture_smtp_bench) on $WORK/NAME's store (its outbox ids), run under
    # PREFIX if given (perf record ...), committing on WINDOW_SCHEDULE (default full); the rows it
    # appends are taken out again afterwards
    local name=$1 connections=$2 size=$3 window=$4 sink0 seconds cpu server failed target first
    shift 4
    if [ "$BACKEND" = postgresql ]; then
        target="host=$PG_DIR user=postgres dbname=$(cat "$WORK/$name/.bench-database")"
    else
        target="$WORK/$name/var/eventfilter.db"
    fi
    first=$(backend_sql "$WORK/$name" "SELECT min(id) FROM outbox")
    [ "$(backend_sql "$WORK/$name" "SELECT count(*) FROM outbox_delivered")" = 0 ] \
        || { echo "$name: outbox_delivered not empty" >&2; exit 1; }
    sink0=$(cpu_of $SINK)
    local postmaster=0
    [ "$BACKEND" = postgresql ] && postmaster=$(head -1 "$PG_DIR/data/postmaster.pid")
    # Through a file, not a pipe: the whole command (a PREFIX such as perf record included) has
    # ended, its own output written, when its line is read.
    "$@" "$WORK/floor_smtp_window" "$BACKEND" "$target" "127.0.0.1:$PORT" "$connections" "$MESSAGES" "$size" \
        "$window" "$first" "schedule=${WINDOW_SCHEDULE:-full}" "server=$postmaster" > "$WORK/window-floor.out"
    read seconds cpu server failed < "$WORK/window-floor.out"
    [ "$failed" = 0 ] || { echo "floor_smtp_window: $failed messages refused" >&2; exit 1; }
    [ "$(backend_sql "$WORK/$name" "SELECT count(*) FROM outbox_delivered")" = "$MESSAGES" ] \
        || { echo "floor_smtp_window did not record $MESSAGES acceptances" >&2; exit 1; }
    backend_sql "$WORK/$name" "DELETE FROM outbox_delivered" >/dev/null  # else our next run would settle them as sent
    echo "$(python3 -c "print(round($MESSAGES / $seconds))") $(per_message 0 "$cpu") $(per_message "$sink0" "$(cpu_of $SINK)") $(per_message 0 "$server")"
}
