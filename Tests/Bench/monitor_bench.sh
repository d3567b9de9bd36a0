#!/usr/bin/env bash
# Monitoring costs (release build); numbers for the README, nothing asserted.
#   Tests/Bench/monitor_bench.sh [FAILED]
# 1. `eventfilter check` on the repository's demo root, 20 times.
# 2. A quiet `eventfilter run` (nothing to do; it checks the settings first), 20 times.
# 3. A run after FAILED (default 10,000) messages failed for good: the first reports them (five
#    lines and a count), the second only reads them; then `status --check`.
# EVENTFILTER=/path/to/eventfilter uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/../.."
FAILED=${1:-10000}
if [ -n "${EVENTFILTER:-}" ]; then
    EF=$EVENTFILTER
else
    swift build -c release --product eventfilter >/dev/null
    EF="$PWD/.build/release/eventfilter"
fi
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/settings"
cp settings/notification.ini "$ROOT/settings/"
printf '[SiteSettings]\nSiteName=bench\n[MailSettings]\nAdminEmail=admin@example.com\n' > "$ROOT/settings/site.ini"
"$EF" --root "$ROOT" --now 2026-05-04T10:00:00Z run

# Milliseconds since $1 (date +%s%N), without starting another program first.
ms() { local now; now=$(date +%s%N); echo $(( (now - $1) / 1000000 )); }
start=$(date +%s%N); for _ in $(seq 20); do "$EF" --root . check >/dev/null; done
echo "check, demo root:             $(ms "$start") ms for 20"
start=$(date +%s%N); for _ in $(seq 20); do "$EF" --root "$ROOT" --now 2026-05-04T10:05:00Z run >/dev/null; done
echo "quiet run:                    $(ms "$start") ms for 20"

python3 - "$ROOT/var/eventfilter.db" "$FAILED" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for i in range(int(sys.argv[2])):
    c.execute("""INSERT INTO outbox(state, attempts, created_at, next_attempt_at, last_error)
                 VALUES ('failed', 1, 0, 0, '550 5.1.1 no such user')""")
    c.execute("""INSERT INTO outbox_message(outbox_id, recipient, sender, message_id, subject, message)
                 VALUES (?, ?, 's@example.com', ?, 'subject', x'41')""", (c.lastrowid, "u%d@example.com" % i, "<%d@bench>" % i))
c.commit()
PY
start=$(date +%s%N); lines=$("$EF" --root "$ROOT" --now 2026-05-04T10:10:00Z run | wc -l)
echo "run with $FAILED new failures: $(ms "$start") ms, $lines lines printed"
start=$(date +%s%N); lines=$("$EF" --root "$ROOT" --now 2026-05-04T10:15:00Z run | wc -l)
echo "the next run:                 $(ms "$start") ms, $lines lines printed"
start=$(date +%s%N); "$EF" --root "$ROOT" --now 2026-05-04T10:15:00Z status --check >/dev/null || true
echo "status --check:               $(ms "$start") ms"
