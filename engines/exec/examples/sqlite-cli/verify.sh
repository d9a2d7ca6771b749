#!/bin/sh
# tornlab exec worked example: "verify". Its exit status is the verdict:
#   0 ok, 10 torn-page-detected, 11 silent-corruption, 12 lost-commit, 14 recovery-failed.
set -u
DB="$TORNLAB_MOUNT/example.db"
if ! out=$(sqlite3 -bail "$DB" "PRAGMA integrity_check;" 2>&1); then
  echo "sqlite3 could not open or read the database: $out"
  case "$out" in *malformed*|*"not a database"*) exit 10 ;; *) exit 14 ;; esac
fi
if [ "$out" != ok ]; then echo "integrity_check: $out"; exit 10; fi
# Content: every payload must be the one derived from its id.
bad=$(sqlite3 "$DB" "SELECT count(*) FROM t WHERE payload != substr(replace(printf('%400s', ''), ' ', printf('%d;', id)), 1, 1500);")
if [ "$bad" != 0 ]; then echo "$bad rows hold the wrong payload"; exit 11; fi
# Durability: every acknowledged id must be there.
max=$(sqlite3 "$DB" "SELECT coalesce(max(id), 0) FROM t;")
count=$(sqlite3 "$DB" "SELECT count(*) FROM t;")
last=$(tail -n 1 "$TORNLAB_ACKED_FILE" 2>/dev/null || true)
echo "rows $count, max id $max, acknowledged before the cut: ${TORNLAB_ACKED_COUNT} (last ${last:-none})"
if [ "$count" != "$max" ]; then echo "rows are missing below id $max"; exit 11; fi
if [ -n "$last" ] && [ "$max" -lt "$last" ]; then echo "lost: ids $((max + 1))..$last were acknowledged"; exit 12; fi
exit 0
