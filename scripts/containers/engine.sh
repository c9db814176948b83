#!/bin/sh
# A private Docker engine for the end-to-end container tests (test/containers/run.sh).
#
#   scripts/containers/engine.sh start   install what is missing, start dockerd, wait until it answers
#   scripts/containers/engine.sh stop    stop the dockerd this script started (by its recorded PID)
#   scripts/containers/engine.sh env     print `export DOCKER_HOST=...` for eval
#   scripts/containers/engine.sh status  exit 0 when the private engine answers
#
# The engine runs on its own socket, data root and exec root under
# $MIGRATE_E2E_DOCKER_DIR (default /tmp/migrate-e2e-docker), so it never touches
# /var/run/docker.sock nor the images of a Docker the developer already runs.
# `start` prints nothing on stdout but the DOCKER_HOST line; logs go to stderr.
set -eu

DIR="${MIGRATE_E2E_DOCKER_DIR:-/tmp/migrate-e2e-docker}"
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/dockerd.pid"
LOG="$DIR/dockerd.log"
START_TIMEOUT="${MIGRATE_E2E_ENGINE_TIMEOUT:-90}"
DOCKER_HOST_VALUE="unix://$SOCK"

say() { printf 'engine: %s\n' "$*" >&2; }

answers() {
  DOCKER_HOST="$DOCKER_HOST_VALUE" timeout 10 docker info >/dev/null 2>&1
}

recorded_pid() {
  if [ -s "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  return 1
}

# Installs Debian's docker.io, docker-compose and debootstrap where missing.
ensure_packages() {
  missing=""
  command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
  command -v docker >/dev/null 2>&1 || missing="$missing docker.io"
  command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
  command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
  command -v iptables >/dev/null 2>&1 || missing="$missing iptables"
  [ -n "$missing" ] || return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing:$missing (install them, or run as root on Debian)"
    return 1
  fi
  say "installing with apt-get:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || return 1
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y -qq --no-install-recommends $missing >&2 || return 1
}

start() {
  mkdir -p "$DIR"
  if pid=$(recorded_pid) && answers; then
    say "already running (pid $pid, $DOCKER_HOST_VALUE)"
    printf 'export DOCKER_HOST=%s\n' "$DOCKER_HOST_VALUE"
    return 0
  fi
  ensure_packages || { say "error: cannot install the engine's packages (docker.io, docker-compose, debootstrap)"; return 1; }
  # A stale socket or pid file from a killed run would make dockerd refuse to start.
  rm -f "$SOCK" "$PIDFILE"
  say "starting dockerd (data root $DIR/data, log $LOG)"
  # setsid: dockerd gets its own session, so a Ctrl-C in the caller's terminal
  # reaches it only through `stop`.
  setsid dockerd \
    --storage-driver overlay2 \
    --data-root "$DIR/data" \
    --exec-root "$DIR/exec" \
    --pidfile "$PIDFILE" \
    -H "$DOCKER_HOST_VALUE" \
    >"$LOG" 2>&1 </dev/null &
  launched=$!
  printf '%s\n' "$launched" >"$PIDFILE.launch"
  waited=0
  while ! answers; do
    if ! kill -0 "$launched" 2>/dev/null; then
      say "dockerd exited while starting; last lines of $LOG:"
      tail -n 20 "$LOG" >&2 || true
      rm -f "$PIDFILE" "$PIDFILE.launch"
      say "error: dockerd exited while starting: $(grep -i -m 1 -E 'failed|error' "$LOG" | cut -c1-200)"
      return 1
    fi
    if [ "$waited" -ge "$START_TIMEOUT" ]; then
      say "dockerd did not answer within ${START_TIMEOUT}s; stopping it. Last lines of $LOG:"
      tail -n 20 "$LOG" >&2 || true
      stop_pid "$launched"
      rm -f "$PIDFILE" "$PIDFILE.launch"
      say "error: dockerd did not answer within ${START_TIMEOUT}s (see $LOG)"
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  # dockerd writes its own pid file; fall back to the pid we launched.
  [ -s "$PIDFILE" ] || printf '%s\n' "$launched" >"$PIDFILE"
  rm -f "$PIDFILE.launch"
  say "ready after ${waited}s (pid $(cat "$PIDFILE"), $DOCKER_HOST_VALUE)"
  printf 'export DOCKER_HOST=%s\n' "$DOCKER_HOST_VALUE"
}

# Sends SIGTERM to a dockerd by PID and waits (30 s, then SIGKILL) until it is gone;
# dockerd takes its containerd and containers down with it.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  waited=0
  while kill -0 "$1" 2>/dev/null; do
    if [ "$waited" -ge 30 ]; then
      say "dockerd (pid $1) still running after 30s; sending SIGKILL"
      kill -KILL "$1" 2>/dev/null || true
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

stop() {
  pid=""
  if pid=$(recorded_pid); then :; elif [ -s "$PIDFILE.launch" ]; then
    pid=$(cat "$PIDFILE.launch")
    kill -0 "$pid" 2>/dev/null || pid=""
  fi
  if [ -z "$pid" ]; then
    say "not running"
    rm -f "$PIDFILE" "$PIDFILE.launch"
    return 0
  fi
  say "stopping dockerd (pid $pid)"
  stop_pid "$pid"
  rm -f "$PIDFILE" "$PIDFILE.launch" "$SOCK"
  say "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) printf 'export DOCKER_HOST=%s\n' "$DOCKER_HOST_VALUE" ;;
  status) if pid=$(recorded_pid) && answers; then say "running (pid $pid)"; else say "not running"; exit 1; fi ;;
  *)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
