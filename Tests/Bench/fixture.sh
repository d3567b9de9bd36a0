# The benchmarks' data, sourced by the scripts in Tests/Bench/ (not run on its own), after
# Tests/Bench/backend.sh (backend_start must have run before fixture_root). One place for what every
# benchmark builds the same way, so that the stages measure the same installation.
#
# fixture_binary [BUILD...]       sets EF: $EVENTFILTER when set, else BUILD's release binary
#                                 (BUILD defaults to `swift build -c release --product eventfilter`)
# fixture_root ROOT [LINE...]     ROOT/settings/ with the repository's notification.ini and a site.ini
#                                 (SiteName Bench, AdminEmail bench@example.com) whose [MailSettings]
#                                 are LINEs (default: Transport=file), pointed at a fresh store
#                                 (backend_root)
# fixture_users ROOT USERS [digest] [NODE]
#                                 USERS users user1@example.com ... ("User i", Europe/Oslo), each
#                                 subscribed to NODE (default: 2 and 60 by turns; the events' paths
#                                 hold both), and with digest a daily 08:00 digest
# fixture_events EVENTS [SUFFIX]  prints EVENTS ezpublish events, one JSON line each, nodes 1000...
#                                 under /1/2/60/, named "Article number i" followed by SUFFIX
# fixture_queue ROOT USERS        USERS plain users subscribed to node 2, and 100 ezpublish events
#                                 of a subject of ordinary length imported: USERS x 100 messages
#                                 at the next run
# fixture_immediate ROOT EVENTS USERS
#                                 ROOT (fixture_root, file transport) with USERS immediate readers
#                                 and EVENTS events imported, and ROOT/floor_write_files compiled
#                                 (Tests/Bench/floor_write_files.c): EVENTS x USERS messages at the
#                                 next run
# fixture_fresh_fs DIR FILES      mounts on DIR (made if missing, left empty) a file system of its own,
#                                 new and empty, of the kind the benchmark machine's /tmp is (ext4
#                                 without a journal, mounted with discard), with room for FILES
#                                 messages: an image file beside DIR on a loop device (direct I/O, so
#                                 its pages are cached once). Without root, or when the loop device
#                                 cannot be made, DIR is an ordinary directory and it returns 1.
#                                 fixture_fresh_fs_cleanup unmounts and removes them all.
# fixture_smtp_sink               Postfix's smtp-sink on a free loopback port, accepting: sets PORT
#                                 and SINK (its pid; the caller stops it)
# fixture_smtp_bench NAME         WORK=/tmp/ef-NAME.* with floor_smtp_curl and floor_smtp_window
#                                 built in it, the sink started, and an exit trap that stops it and
#                                 the backend and removes WORK
FIXTURE_NOW=2026-05-04T10:00:00Z

fixture_binary() {  # [BUILD...]
    if [ -n "${EVENTFILTER:-}" ]; then
        EF=$EVENTFILTER
    else
        if [ $# -eq 0 ]; then set -- swift build -c release --product eventfilter; fi
        "$@" >/dev/null
        EF="$PWD/.build/release/eventfilter"
    fi
}

fixture_root() {  # ROOT [LINE...]
    local root=$1
    shift
    [ $# -gt 0 ] || set -- Transport=file
    mkdir -p "$root/settings"
    cp settings/notification.ini "$root/settings/"
    {
        printf '[SiteSettings]\nSiteName=Bench\nSiteURL=https://bench.example.com\n[MailSettings]\n'
        printf '%s\n' "$@" AdminEmail=bench@example.com
    } > "$root/settings/site.ini"
    backend_root "$root"
}

fixture_users() {  # ROOT USERS [digest] [NODE]
    local i node
    for i in $(seq 1 "$2"); do
        node=${4:-$(( i % 2 == 0 ? 2 : 60 ))}
        "$EF" --root "$1" --now "$FIXTURE_NOW" user add "user$i@example.com" --name "User $i" --timezone Europe/Oslo >/dev/null
        "$EF" --root "$1" --now "$FIXTURE_NOW" subscribe "user$i@example.com" "$node" >/dev/null
        if [ "${3:-}" = digest ]; then
            "$EF" --root "$1" --now "$FIXTURE_NOW" digest "user$i@example.com" daily 08:00 >/dev/null
        fi
    done
}

fixture_events() {  # EVENTS [SUFFIX]
    python3 - "$1" "${2:-}" <<'PY'
import json, sys
suffix = sys.argv[2]
for i in range(int(sys.argv[1])):
    node = 1000 + i
    print(json.dumps({"type": "ezpublish", "params": {"node_id": str(node), "path": f"/1/2/60/{node}/",
          "name": f"Article number {i}{suffix}", "class": "Article", "version": "1", "author": "someone@example.com"}}))
PY
}

fixture_queue() {  # ROOT USERS
    local i
    # Their confirmations ("added user ...") must not reach the caller, which may read one line of numbers.
    for i in $(seq 1 "$2"); do
        "$EF" --root "$1" --now "$FIXTURE_NOW" user add "user$i@example.com" >/dev/null
        "$EF" --root "$1" --now "$FIXTURE_NOW" subscribe "user$i@example.com" 2 >/dev/null
    done
    python3 -c "
import json
for i in range(100): print(json.dumps({'type':'ezpublish','params':{'node_id':str(i),'path':'/1/2/%d/'%i,'name':'Article %d with a title of ordinary length'%i}}))" \
        | "$EF" --root "$1" --now "$FIXTURE_NOW" event import - >/dev/null
}

fixture_immediate() {  # ROOT EVENTS USERS
    cc -O2 -o "$1/floor_write_files" Tests/Bench/floor_write_files.c
    fixture_root "$1"
    fixture_users "$1" "$3"
    fixture_events "$2" > "$1/events.jsonl"
    "$EF" --root "$1" --now "$FIXTURE_NOW" event import "$1/events.jsonl" >/dev/null
}

# Why a file system per side: ext4 without a journal does not reuse an inode freed in the last 60 s
# (360 s while its inode-table block is not yet written back) and walks past each such inode on
# every file it creates, so on the shared /tmp whichever writer runs nearer a mass deletion (the
# previous run's files, removed with its root) pays 2-4x the kernel CPU per file. A new file
# system has no freed inodes: both writers meet the same, empty allocator.
FRESH_MOUNTS=()

fixture_fresh_fs() {  # DIR FILES
    local dir=$1 files=$2 image device
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null || return 1
    image="$dir.img"
    # Sparse: 8 KiB and an inode per message, whatever the messages' size (4 KiB blocks).
    truncate -s $(( files * 8192 + 256 * 1024 * 1024 )) "$image" || return 1
    mkfs.ext4 -q -F -O ^has_journal -N $(( files + files / 10 + 1024 )) -E lazy_itable_init=0 "$image" || { rm -f "$image"; return 1; }
    device=$(losetup --direct-io=on -f --show "$image" 2>/dev/null) || { rm -f "$image"; return 1; }
    if ! mount -o discard "$device" "$dir"; then
        losetup -d "$device"
        rm -f "$image"
        return 1
    fi
    FRESH_MOUNTS+=("$dir|$device|$image")
}

fixture_fresh_fs_cleanup() {
    local entry
    for entry in "${FRESH_MOUNTS[@]}"; do
        IFS='|' read -r dir device image <<< "$entry"
        umount "$dir" 2>/dev/null || umount -l "$dir" 2>/dev/null || true
        losetup -d "$device" 2>/dev/null || true
        rm -f "$image"
    done
    FRESH_MOUNTS=()
}

fixture_smtp_sink() {
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    smtp-sink -u nobody -c 127.0.0.1:$PORT 1000 >/dev/null 2>&1 &
    SINK=$!
    for _ in $(seq 1 50); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1).close()" 2>/dev/null && return 0
        sleep 0.1
    done
}

fixture_smtp_bench() {  # NAME: WORK (/tmp/ef-NAME.*) with the libcurl and window floors built in
    # it, smtp-sink on PORT (pid SINK), and an exit trap that stops the sink and the backend and
    # removes WORK
    WORK=$(mktemp -d "/tmp/ef-$1.XXXXXX")
    chmod 755 "$WORK"
    fixture_smtp_sink
    trap 'kill $SINK 2>/dev/null; wait $SINK 2>/dev/null || true; backend_stop; rm -rf "$WORK"' EXIT
    # Built once the trap is set: a build that fails still stops the sink and removes WORK.
    cc -O2 -o "$WORK/floor_smtp_curl" Tests/Bench/floor_smtp_curl.c -lcurl -lpthread
    cc -O2 -I"$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)" -o "$WORK/floor_smtp_window" \
        Tests/Bench/floor_smtp_window.c -lsqlite3 -lpq -lpthread
}
