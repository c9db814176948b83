#!/bin/sh
# Backend container entrypoint (docs/CONTRACT.md "The container"):
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
#   backend-entrypoint.sh migrate [ARG...]
#
#   When COMMAND is migrate itself (`docker compose run --rm backend migrate
#   down --steps 1`; `migrate`, or a path to the same file as MIGRATE_BIN), it
#   waits for the database and execs that command alone: running `migrate
#   auto` first would apply what is pending and then revert it. The container
#   exits with migrate's code. create, generate, revision, heads, --offline,
#   --help and --version need no database and do not wait.
#
# LOG_LEVEL is often the app's too, in its own words: one that migrate does
# not know never stops the app under MIGRATION_FAILURE_POLICY=continue
# (migrate then logs at info; the app still gets LOG_LEVEL as it is); under
# MIGRATION_FAILURE_POLICY=exit the container stops with exit 2.
#
# MIGRATE_BIN names the migrate command (default: `migrate` on PATH). The
# database, migrations folder and log format come from the environment that
# migrate itself reads (DATABASE_URL, MIGRATIONS_DIR, LOG_FORMAT, ...).
# This script's own log lines go to stderr, in migrate's format: JSON lines
# when LOG_FORMAT=json or stderr is not a terminal, else text; either way
# their message starts with "entrypoint:".
set -eu

lower() {
  printf '%s' "$1" | tr '[:upper:]' '[:lower:]'
}

case "$(lower "${LOG_FORMAT:-}")" in
  json) LOG_JSON=true ;;
  pretty) LOG_JSON=false ;;
  *) if [ -t 2 ]; then LOG_JSON=false; else LOG_JSON=true; fi ;;
esac

# log LEVEL MESSAGE...: one line on stderr, as migrate writes its own.
log() {
  level=$1
  shift
  if [ "$LOG_JSON" = true ]; then
    message=$(printf '%s' "entrypoint: $*" | tr '\n\t\r' '   ' | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')
    printf '{"level":"%s","message":"%s","timestamp":"%s"}\n' "$level" "$message" "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" >&2
  else
    printf '%s entrypoint: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >&2
  fi
}

# true for true/1/yes/on, false for false/0/no/off (any case); else $2.
flag() {
  case "$(lower "$1")" in
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
POLICY=$(lower "${MIGRATION_FAILURE_POLICY:-continue}")

# Settings are checked before anything runs: a typo must not pass silently.
if [ "$#" -eq 0 ]; then
  log error "error: no command to start; usage: backend-entrypoint.sh COMMAND [ARG...]"
  exit 2
fi
case "$POLICY" in
  continue | exit) ;;
  *)
    log error "error: MIGRATION_FAILURE_POLICY=${MIGRATION_FAILURE_POLICY:-} is not one of: continue, exit"
    exit 2
    ;;
esac
if [ "$RUN_MIGRATIONS_FLAG" = invalid ]; then
  log error "error: RUN_MIGRATIONS=${RUN_MIGRATIONS:-} is not true or false"
  exit 2
fi
if [ "$SKIP_MIGRATIONS_FLAG" = invalid ]; then
  log error "error: SKIP_MIGRATIONS=${SKIP_MIGRATIONS:-} is not true or false"
  exit 2
fi
if ! command -v "$MIGRATE_BIN" >/dev/null 2>&1; then
  log error "error: the migrate command ($MIGRATE_BIN) is not found; set MIGRATE_BIN or put migrate on PATH"
  exit 127
fi

# Whether $1 is migrate: named so, or the same file as MIGRATE_BIN (/usr/local/bin/migrate,
# /app/dist/cli.js in the image).
is_migrate() {
  [ "${1##*/}" = migrate ] && return 0
  asked=$(command -v -- "$1" 2>/dev/null) || return 1
  ours=$(command -v -- "$MIGRATE_BIN" 2>/dev/null) || return 1
  [ "$(readlink -f -- "$asked")" = "$(readlink -f -- "$ours")" ]
}

# Whether the migrate arguments need no database (README, "Containers").
needs_no_database() {
  case "${1:-}" in
    create | generate | revision | heads | help) return 0 ;;
  esac
  for arg in "$@"; do
    case "$arg" in
      --help | -h | --version | -V | --offline) return 0 ;;
    esac
  done
  return 1
}

# wait_for_database STEP: `migrate wait`; on failure the container stops with its code.
# In the app's start (STEP 1/3), a LOG_LEVEL that migrate refuses (exit 2, its error
# above) but that is the only thing wrong does not stop the app under `continue`:
# migrate runs without it from then on (MIGRATE_LOG_LEVEL=ignored).
MIGRATE_LOG_LEVEL=as-given
wait_for_database() {
  log info "$1: waiting for the database (up to ${WAIT_FOR_DB_TIMEOUT}s)"
  wait_status=0
  "$MIGRATE_BIN" wait --timeout "$WAIT_FOR_DB_TIMEOUT" || wait_status=$?
  if [ "$wait_status" -eq 2 ] && [ -n "${LOG_LEVEL:-}" ] && [ "$1" = "step 1/3" ]; then
    retry_status=0
    LOG_LEVEL='' "$MIGRATE_BIN" wait --timeout "$WAIT_FOR_DB_TIMEOUT" || retry_status=$?
    if [ "$retry_status" -eq 0 ]; then
      if [ "$POLICY" = exit ]; then
        log error "error: migrate refused LOG_LEVEL=${LOG_LEVEL} (see its error above); MIGRATION_FAILURE_POLICY=exit, so the app is not started"
        exit 2
      fi
      log warn "WARNING: migrate refused LOG_LEVEL=${LOG_LEVEL} (see its error above); migrate runs at info, the app gets LOG_LEVEL as it is"
      MIGRATE_LOG_LEVEL=ignored
    fi
    wait_status=$retry_status
  fi
  if [ "$wait_status" -eq 0 ]; then
    log info "$1: the database accepts connections"
    return 0
  fi
  if [ "$wait_status" -eq 4 ]; then
    log error "error: the database did not accept connections within ${WAIT_FOR_DB_TIMEOUT}s; not starting (exit 4)"
  else
    log error "error: waiting for the database failed (migrate wait exited $wait_status); not starting"
  fi
  exit "$wait_status"
}

# A migrate command: wait, then that command alone, in this shell's place.
if is_migrate "$1"; then
  migrate_command=$1
  shift
  if needs_no_database "$@"; then
    log info "running: $migrate_command $* (needs no database)"
  else
    wait_for_database "migrate command"
    log info "running: $migrate_command $* (alone: no migrate auto first)"
  fi
  exec "$migrate_command" "$@"
fi

# 1. Wait for the database.
wait_for_database "step 1/3"

# migrate with the environment as given, or without a LOG_LEVEL it refused.
run_migrate() {
  if [ "$MIGRATE_LOG_LEVEL" = as-given ]; then
    "$MIGRATE_BIN" "$@"
  else
    LOG_LEVEL='' "$MIGRATE_BIN" "$@"
  fi
}

# 2. Migrate.
if [ "$RUN_MIGRATIONS_FLAG" = false ] || [ "$SKIP_MIGRATIONS_FLAG" = true ]; then
  log info "step 2/3: skipping migrations (RUN_MIGRATIONS=${RUN_MIGRATIONS:-} SKIP_MIGRATIONS=${SKIP_MIGRATIONS:-})"
else
  log info "step 2/3: running migrations (migrate auto)"
  migrate_status=0
  run_migrate auto || migrate_status=$?
  if [ "$migrate_status" -eq 0 ]; then
    log info "step 2/3: migrations done"
  elif [ "$POLICY" = exit ]; then
    log error "error: migrate auto failed (exit $migrate_status); MIGRATION_FAILURE_POLICY=exit, so the app is not started"
    exit "$migrate_status"
  else
    log warn "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    log warn "WARNING: migrate auto FAILED (exit $migrate_status)."
    log warn "WARNING: MIGRATION_FAILURE_POLICY=continue: starting the app ANYWAY,"
    log warn "WARNING: against a database schema that may not be what it expects."
    log warn "WARNING: see migrate's error above; run \`migrate status\` in this container."
    log warn "WARNING: set MIGRATION_FAILURE_POLICY=exit to stop the container instead."
    log warn "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  fi
fi

# 3. Start the app in place of this shell.
log info "step 3/3: starting: $*"
exec "$@"
