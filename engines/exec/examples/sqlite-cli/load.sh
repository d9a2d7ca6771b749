#!/bin/sh
# tornlab exec worked example: "load". Commits one row per transaction and,
# after sqlite3 returned from COMMIT, appends the row's id to $TORNLAB_ACK_FILE:
# one line per acknowledged operation. Runs until tornlab cuts the power.
# Each row's payload is derived from its id, so verify can check content.
set -eu
DB="$TORNLAB_MOUNT/example.db"
i=0
while [ "$i" -lt "${ROWS:-100000}" ]; do
  i=$((i + 1))
  sqlite3 -bail "$DB" "PRAGMA synchronous=${SYNCHRONOUS:-FULL};" \
    "BEGIN; INSERT INTO t(id, payload) VALUES ($i, substr(replace(printf('%400s', ''), ' ', printf('%d;', $i)), 1, 1500)); COMMIT;" >/dev/null
  echo "$i" >> "$TORNLAB_ACK_FILE"
done
