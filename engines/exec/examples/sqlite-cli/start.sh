#!/bin/sh
# tornlab exec worked example: "start" for an embedded database.
# Before the cut (TORNLAB_PHASE=start) it creates the schema on the fresh file
# system; after the cut (TORNLAB_PHASE=recover) there is no server to start:
# SQLite recovers (hot journal rollback / WAL replay) when verify opens the file.
set -eu
DB="$TORNLAB_MOUNT/example.db"
if [ "$TORNLAB_PHASE" = start ]; then
  sqlite3 -bail "$DB" "PRAGMA journal_mode=${JOURNAL_MODE:-WAL};" \
    "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, payload TEXT NOT NULL);" >/dev/null
  sync -f "$DB"   # the empty schema is the durable starting point
fi
