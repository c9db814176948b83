#!/bin/sh
# Backend container entrypoint (CONTRACT.md, "The container"):
#
#   backend-entrypoint.sh COMMAND [ARG...]
#
#   1. waits for the database: `migrate wait --timeout $WAIT_FOR_DB_TIMEOUT`
#      (default 60 seconds); when that fails the container stops with migrate's
#      exit code (4: the database did not accept connections in time);
#   2. runs `migrate auto`, unless RUN_MIGRATIONS=false or SKIP_MIGRATIONS=true;
#   3. when that run fails: MIGRATION_FAILURE_POLICY=continue (the default) logs
#      a loud warning and starts the app anyway; MIGRATION_FAILURE_POLICY=exit
#      stops with migrate's exit code;
#   4. execs COMMAND, so the app replaces this shell and gets the signals that
#      the init (tini, PID 1) forwards.
#
# MIGRATE_BIN names the migrate command (default: `migrate` on PATH). The
# database, migrations folder and log format come from the environment that
# migrate itself reads (DATABASE_URL, MIGRATIONS_DIR, LOG_FORMAT, ...).
# This script's own log lines go to stderr, prefixed with "entrypoint:".
set -eu

log() {
  printf '%s entrypoint: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >&2
}

# true for true/1/yes/on, false for false/0/no/off (any case); else $2.
flag() {
  case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in
    true | 1 | yes | on) echo true ;;
    false | 0 | no | off) echo false ;;
    '') echo "$2" ;;
    *) echo invalid ;;
  esac
}

MIGRATE_BIN="${MIGRATE_BIN:-migrate}"
WAIT_FOR_DB_TIMEOUT="${WAIT_FOR_DB_TIMEOUT:-60}"
RUN_MIGRATIONS_FLAG=$(flag "${RUN_MIGRATIONS:-}" true)
SKIP_MIGRATIONS_FLAG=$(flag "${SKIP_MIGRATIONS:-}" false)
POLICY=$(printf '%s' "${MIGRATION_FAILURE_POLICY:-continue}" | tr '[:upper:]' '[:lower:]')

# Settings are checked before anything runs: a typo must not pass silently.
if [ "$#" -eq 0 ]; then
  log "error: no command to start; usage: backend-entrypoint.sh COMMAND [ARG...]"
  exit 2
fi
case "$POLICY" in
  continue | exit) ;;
  *)
    log "error: MIGRATION_FAILURE_POLICY=${MIGRATION_FAILURE_POLICY:-} is not one of: continue, exit"
    exit 2
    ;;
esac
if [ "$RUN_MIGRATIONS_FLAG" = invalid ]; then
  log "error: RUN_MIGRATIONS=${RUN_MIGRATIONS:-} is not true or false"
  exit 2
fi
if [ "$SKIP_MIGRATIONS_FLAG" = invalid ]; then
  log "error: SKIP_MIGRATIONS=${SKIP_MIGRATIONS:-} is not true or false"
  exit 2
fi
if ! command -v "$MIGRATE_BIN" >/dev/null 2>&1; then
  log "error: the migrate command ($MIGRATE_BIN) is not found; set MIGRATE_BIN or put migrate on PATH"
  exit 127
fi

# 1. Wait for the database.
log "step 1/3: waiting for the database (up to ${WAIT_FOR_DB_TIMEOUT}s)"
wait_status=0
"$MIGRATE_BIN" wait --timeout "$WAIT_FOR_DB_TIMEOUT" || wait_status=$?
if [ "$wait_status" -ne 0 ]; then
  if [ "$wait_status" -eq 4 ]; then
    log "error: the database did not accept connections within ${WAIT_FOR_DB_TIMEOUT}s; not starting (exit 4)"
  else
    log "error: waiting for the database failed (migrate wait exited $wait_status); not starting"
  fi
  exit "$wait_status"
fi
log "step 1/3: the database accepts connections"

# 2. Migrate.
if [ "$RUN_MIGRATIONS_FLAG" = false ] || [ "$SKIP_MIGRATIONS_FLAG" = true ]; then
  log "step 2/3: skipping migrations (RUN_MIGRATIONS=${RUN_MIGRATIONS:-} SKIP_MIGRATIONS=${SKIP_MIGRATIONS:-})"
else
  log "step 2/3: running migrations (migrate auto)"
  migrate_status=0
  "$MIGRATE_BIN" auto || migrate_status=$?
  if [ "$migrate_status" -eq 0 ]; then
    log "step 2/3: migrations done"
  elif [ "$POLICY" = exit ]; then
    log "error: migrate auto failed (exit $migrate_status); MIGRATION_FAILURE_POLICY=exit, so the app is not started"
    exit "$migrate_status"
  else
    log "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    log "WARNING: migrate auto FAILED (exit $migrate_status)."
    log "WARNING: MIGRATION_FAILURE_POLICY=continue: starting the app ANYWAY,"
    log "WARNING: against a database schema that may not be what it expects."
    log "WARNING: see migrate's error above; run \`migrate status\` in this container."
    log "WARNING: set MIGRATION_FAILURE_POLICY=exit to stop the container instead."
    log "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  fi
fi

# 3. Start the app in place of this shell.
log "step 3/3: starting: $*"
exec "$@"
