#!/usr/bin/env bash
# End-to-end container test (not part of `npm test`): the backend image, the
# compose files and the entrypoint against a real PostgreSQL container, on a
# private Docker engine (scripts/containers/engine.sh) with locally built base
# images where no registry answers (scripts/containers/base-images.sh).
#
#   bash test/containers/run.sh        (npm run test:containers)
#
# Prints PASS/FAIL per step and ends with `containers: N passed, M failed`.
# When no engine can be started at all it prints `NOT RUN: <reason>` and exits
# 0: nothing was tested, nothing is counted. Otherwise it exits 1 on any failure.
#
# Settings: MIGRATE_E2E_PROJECT (compose project, default migrate-e2e),
# MIGRATE_E2E_PORT (host port of the backend, default a free one),
# MIGRATE_E2E_BUDGET (seconds for the whole run, default 1200),
# MIGRATE_E2E_KEEP_ENGINE=1 (leave the engine running afterwards).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1

PROJECT="${MIGRATE_E2E_PROJECT:-migrate-e2e}"
BUDGET="${MIGRATE_E2E_BUDGET:-1200}"
ENGINE="$ROOT/scripts/containers/engine.sh"
BASE_IMAGES="$ROOT/scripts/containers/base-images.sh"
PLAIN=(-p "$PROJECT" -f docker-compose.container.yml)
MERGED=(-p "$PROJECT" -f docker-compose.container.yml -f docker-compose.alembic.yml)
PROFILED=(-p "$PROJECT" -f docker-compose.container.yml -f docker-compose.migrations.yml)
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/migrate-e2e-run.XXXXXX")

# Compose settings for this run only: our own image name, a free port,
# development credentials that differ from one another (so a masked password
# masks nothing else), the classic builder (docker-compose 1.29 and no buildx).
export BACKEND_IMAGE="migrate-e2e/example-backend:test"
export POSTGRES_USER=app POSTGRES_PASSWORD=e2e-secret POSTGRES_DB=appdb
export COMPOSE_HTTP_TIMEOUT=600 DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
unset RUN_MIGRATIONS SKIP_MIGRATIONS MIGRATION_FAILURE_POLICY WAIT_FOR_DB_TIMEOUT DATABASE_URL
unset HOST_UID HOST_GID MIGRATIONS_HOST_DIR COMPOSE_PROFILES LOG_LEVEL LOG_FORMAT

passed=0
failed=0
skipped=0
started_engine=0
current_pid=""
t_start=$SECONDS

say() { printf '%s\n' "$*"; }
elapsed() { echo $((SECONDS - t_start)); }

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  # A step still running (interrupted run): its processes go first.
  [ -n "${current_pid:-}" ] && kill_tree "$current_pid"
  if [ -n "${DOCKER_HOST:-}" ] && command -v docker-compose >/dev/null 2>&1; then
    timeout 120 docker-compose "${MERGED[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  if [ "$started_engine" = 1 ] && [ "${MIGRATE_E2E_KEEP_ENGINE:-0}" != 1 ]; then
    "$ENGINE" stop || true
  fi
  rm -rf "$LOGDIR"
  exit "$code"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# step NAME TIMEOUT COMMAND...: runs COMMAND with its output in a log; PASS or FAIL.
step() {
  local name=$1 limit=$2
  shift 2
  if [ $((SECONDS - t_start)) -ge "$BUDGET" ]; then
    say "SKIP  $name (the ${BUDGET}s budget is spent)"
    skipped=$((skipped + 1))
    return 1
  fi
  local log="$LOGDIR/step.log" t0=$SECONDS status=0
  run_limited "$limit" "$@" >"$log" 2>&1 </dev/null || status=$?
  if [ "$status" -eq 0 ]; then
    say "PASS  $name ($((SECONDS - t0))s)"
    passed=$((passed + 1))
    return 0
  fi
  if [ "$status" -eq 124 ]; then
    say "FAIL  $name (timed out after ${limit}s)"
  else
    say "FAIL  $name (exit $status, $((SECONDS - t0))s)"
  fi
  tail -n 25 "$log" | sed 's/^/      | /'
  failed=$((failed + 1))
  return 1
}

# Kills a process and everything under it (by PID, children first).
kill_tree() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
  kill -TERM "$1" 2>/dev/null || true
}

# run_limited SECONDS COMMAND...: COMMAND (a shell function too) in a subshell;
# past SECONDS its process tree is killed and the status is 124, like timeout(1).
run_limited() {
  local limit=$1 pid deadline
  shift
  ("$@") &
  pid=$!
  current_pid=$pid
  deadline=$((SECONDS + limit))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill_tree "$pid"
      wait "$pid" 2>/dev/null
      current_pid=""
      return 124
    fi
    sleep 0.2
  done
  current_pid=""
  wait "$pid"
}

skip() {
  say "SKIP  $1 (after an earlier failure)"
  skipped=$((skipped + 1))
}

summary() {
  local extra=""
  [ "$skipped" -gt 0 ] && extra=", $skipped skipped"
  say "containers: total time $(elapsed)s"
  say "containers: $passed passed, $failed failed$extra"
}

not_run() {
  say "NOT RUN: $*"
  say "containers: nothing was tested (not counted as a pass)"
  exit 0
}

# ---------------------------------------------------------------- checks ---

# expect_http PORT PATH STATUS [BODY_REGEX] [SECONDS]: polls until the answer matches.
expect_http() {
  local port=$1 path=$2 want=$3 body_re=${4:-} limit=${5:-120} deadline code body
  deadline=$((SECONDS + limit))
  while :; do
    code=$(curl -s -o "$LOGDIR/body" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port$path" 2>/dev/null) || code=000
    body=$(cat "$LOGDIR/body" 2>/dev/null || true)
    if [ "$code" = "$want" ] && { [ -z "$body_re" ] || printf '%s' "$body" | grep -Eq "$body_re"; }; then
      echo "GET $path: $code $body"
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "GET $path: wanted $want${body_re:+ matching /$body_re/}; last answer $code $body"
      return 1
    fi
    sleep 1
  done
}

# json_field FIELD < JSON: prints a top-level field (arrays joined by commas, objects as JSON).
json_field() {
  node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const v = JSON.parse(s)[process.argv[1]];
      const text = (x) => (x !== null && typeof x === "object" ? JSON.stringify(x) : String(x));
      console.log(Array.isArray(v) ? v.map(text).join(",") : v === null ? "null" : text(v));
    });' "$1"
}

# expect_status STATE CURRENT COMMAND...: `COMMAND migrate status --json` (exec or run) shows that state.
expect_status() {
  local want_state=$1 want_current=$2
  shift 2
  local out state current
  out=$("$@" migrate status --json) || { echo "migrate status --json failed"; return 1; }
  echo "$out"
  state=$(printf '%s' "$out" | json_field state) || return 1
  current=$(printf '%s' "$out" | json_field current) || return 1
  if [ "$state" != "$want_state" ] || [ "$current" != "$want_current" ]; then
    echo "wanted state=$want_state current=$want_current, got state=$state current=$current"
    return 1
  fi
}

wait_healthy() {
  local container=$1 limit=${2:-90} deadline health
  deadline=$((SECONDS + limit))
  while :; do
    health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$container" 2>&1) || health="?"
    echo "health of $container: $health"
    [ "$health" = healthy ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 2
  done
}

container_of() { docker-compose "${PLAIN[@]}" ps -q "$1" 2>/dev/null | head -n 1; }

check_pid1() {
  local procs
  # shellcheck disable=SC2016 # expanded by the container's shell
  procs=$(docker-compose "${PLAIN[@]}" exec -T backend sh -c \
    'for p in /proc/[0-9]*; do printf "%s %s\n" "${p#/proc/}" "$(tr "\0" " " <"$p/cmdline")"; done') || return 1
  echo "$procs"
  echo "$procs" | grep -Eq '^1 /usr/bin/tini -g -- /app/scripts/docker/backend-entrypoint.sh' || { echo "PID 1 is not tini -g"; return 1; }
  echo "$procs" | grep -Eq '^[0-9]+ node example/server.js' || { echo "the app is not running"; return 1; }
  # exec: no shell is left running the entrypoint script besides tini's own argv.
  if echo "$procs" | grep -v '^1 ' | grep -q 'backend-entrypoint.sh'; then
    echo "the entrypoint shell is still there: the app was not exec'd"
    return 1
  fi
}

graceful_stop() {
  local id code
  id=$(container_of backend)
  [ -n "$id" ] || { echo "no backend container"; return 1; }
  docker-compose "${PLAIN[@]}" stop -t 20 backend || return 1
  code=$(docker inspect -f '{{.State.ExitCode}}' "$id") || return 1
  docker logs --tail 5 "$id" 2>&1
  [ "$code" = 0 ] || { echo "backend exited $code on SIGTERM (wanted 0)"; return 1; }
}

# `docker-compose run` of the backend with settings; expects an exit code.
expect_backend_run_exit() {
  local want=$1 code=0
  shift
  docker-compose "${PLAIN[@]}" run --rm -T --no-deps "$@" backend node -e 'console.log("APP STARTED")' >"$LOGDIR/run.out" 2>&1 || code=$?
  cat "$LOGDIR/run.out"
  if grep -q 'APP STARTED' "$LOGDIR/run.out"; then echo "the app started"; return 1; fi
  [ "$code" = "$want" ] || { echo "exit $code, wanted $want"; return 1; }
}

make_diverged() {
  docker-compose "${PLAIN[@]}" exec -T postgres psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
    -c "INSERT INTO pgmigrations (name, run_on) VALUES ('0099_not_on_disk', now())"
}

# (0003 and 0004 are still in the schema: stamping back to head is the honest way back.)
stamp_head_then_ready() {
  docker-compose "${PLAIN[@]}" exec -T backend migrate stamp head || return 1
  expect_http "$P" /readyz 200 '"state":"current"' 30
}

diverged_policy_exit() {
  make_diverged || return 1
  expect_backend_run_exit 3 -e MIGRATION_FAILURE_POLICY=exit
}

# A user row (0003 made display_name NOT NULL), then /users serves it.
users_served() {
  docker-compose "${PLAIN[@]}" exec -T postgres psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
    -c "INSERT INTO users (email, display_name) VALUES ('alice@example.com', 'alice')" || return 1
  expect_http "$P" /users 200 '"email":"alice@example.com","display_name":"alice"' 30
}

# `migrate check` exits 0, and status --json has no findings: the fingerprint
# manifest made it into the image and matches the live schema (a missing or
# stale manifest shows as a finding, not as a failed check).
check_current_no_findings() {
  local out findings
  docker-compose "${PLAIN[@]}" exec -T backend sh -c 'ls -la /app/migrations && test -s /app/migrations/.schema-fingerprints.json' ||
    { echo "no /app/migrations/.schema-fingerprints.json in the image"; return 1; }
  docker-compose "${PLAIN[@]}" exec -T backend migrate check || { echo "migrate check failed"; return 1; }
  out=$(docker-compose "${PLAIN[@]}" exec -T backend migrate status --json) || return 1
  echo "$out"
  findings=$(printf '%s' "$out" | json_field findings) || return 1
  [ -z "$findings" ] || { echo "findings: $findings (wanted none)"; return 1; }
}

migrate_current_is() {
  local out
  out=$(docker-compose "${MERGED[@]}" run --rm -T migrate current) || return 1
  echo "$out"
  [ "$(printf '%s' "$out" | tail -n 1 | tr -d '\r')" = "$1" ]
}

backend_log_has() {
  docker-compose "${MERGED[@]}" logs --no-color backend | tee "$LOGDIR/backend.log" >/dev/null
  grep -q "$1" "$LOGDIR/backend.log" || { cat "$LOGDIR/backend.log"; echo "no '$1' in the backend log"; return 1; }
}

migrate_exited_zero() {
  local id
  id=$(docker-compose "${MERGED[@]}" ps -a -q migrate | head -n 1)
  [ -n "$id" ] || { echo "no migrate container"; return 1; }
  [ "$(docker inspect -f '{{.State.ExitCode}}' "$id")" = 0 ]
}

# Every line the backend wrote (stdout and stderr: entrypoint, migrate auto, the app) is JSON.
backend_logs_one_format() {
  local line others=0
  docker-compose "${PLAIN[@]}" logs --no-color backend | grep -E '^[^ |]+ +\| ' | sed -E 's/^[^|]*\| //' >"$LOGDIR/backend.log" || return 1
  cat "$LOGDIR/backend.log"
  grep -q '"message":"entrypoint: step 2/3: migrations done"' "$LOGDIR/backend.log" || { echo "no entrypoint line"; return 1; }
  grep -q '"message":"state: ' "$LOGDIR/backend.log" || { echo "no migrate line"; return 1; }
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    printf '%s' "$line" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>JSON.parse(s))' 2>/dev/null ||
      { echo "not JSON: $line"; others=$((others + 1)); }
  done <"$LOGDIR/backend.log"
  [ "$others" -eq 0 ]
}

# A LOG_LEVEL migrate does not know (a Python app's, say) does not stop the app under `continue`.
bad_log_level_app_starts() {
  local code=0
  docker-compose "${PLAIN[@]}" run --rm -T --no-deps -e LOG_LEVEL=verbose backend node -e 'console.log("APP STARTED")' >"$LOGDIR/run.out" 2>&1 || code=$?
  cat "$LOGDIR/run.out"
  [ "$code" = 0 ] || { echo "exit $code"; return 1; }
  grep -q 'APP STARTED' "$LOGDIR/run.out" || { echo "the app did not start"; return 1; }
  grep -q 'migrate refused LOG_LEVEL=verbose' "$LOGDIR/run.out"
}

# With the profile file, `up` starts postgres and backend only: no migrate container.
profiled_up_starts_no_migrate() {
  docker-compose "${PROFILED[@]}" up -d || return 1
  local ids
  ids=$(docker-compose "${PROFILED[@]}" ps -a -q migrate)
  [ -z "$ids" ] || { echo "a migrate container was started: $ids"; return 1; }
  expect_http "$P" /readyz 200 '"state":"current"' 60
}

# run_current FILES... -- EXPECTED: `run --rm migrate current` with those compose arguments.
migrate_current_with() {
  local want=$1 out
  shift
  out=$(docker-compose "$@" run --rm -T migrate current) || return 1
  echo "$out"
  [ "$(printf '%s' "$out" | tail -n 1 | tr -d '\r')" = "$want" ]
}

# `docker compose run --rm backend migrate down --steps 1`: only that, no `auto` first.
backend_migrate_down_alone() {
  docker-compose "${PLAIN[@]}" run --rm -T backend migrate down --steps 1 >"$LOGDIR/run.out" 2>&1 || { cat "$LOGDIR/run.out"; return 1; }
  cat "$LOGDIR/run.out"
  if grep -q 'running migrations (migrate auto)' "$LOGDIR/run.out"; then echo "auto ran first"; return 1; fi
  grep -q 'running: migrate down --steps 1 (alone: no migrate auto first)' "$LOGDIR/run.out"
}

# A project with no migration files at all, on a fresh database: ready, and check exits 0.
no_files_ready() {
  docker-compose "${PLAIN[@]}" exec -T postgres createdb -U "$POSTGRES_USER" no_files || return 1
  local url="postgres://$POSTGRES_USER:$POSTGRES_PASSWORD@postgres:5432/no_files"
  # shellcheck disable=SC2016 # JavaScript, run in the container
  docker-compose "${PLAIN[@]}" run --rm -T --no-deps -e DATABASE_URL="$url" -e MIGRATIONS_DIR=/tmp/none -e PORT=3999 \
    --entrypoint node backend -e '
      const { spawn, spawnSync } = require("child_process");
      const http = require("http");
      require("fs").mkdirSync("/tmp/none", { recursive: true });
      const check = spawnSync("migrate", ["check"], { encoding: "utf8" });
      console.log("migrate check:", check.status, check.stdout.trim());
      if (check.status !== 0) process.exit(1);
      const app = spawn("node", ["example/server.js"], { stdio: "inherit" });
      let tries = 0;
      const poll = () => http.get("http://127.0.0.1:3999/readyz", (res) => {
        let body = "";
        res.on("data", (d) => (body += d)).on("end", () => {
          console.log("GET /readyz:", res.statusCode, body);
          app.kill();
          process.exit(res.statusCode === 200 ? 0 : 1);
        });
      }).on("error", () => {
        if (++tries > 60) { app.kill(); process.exit(1); }
        setTimeout(poll, 500);
      });
      poll();'
}

# generate through the bind mount: the file lands in the host folder, owned by the given uid.
# generate_into OWNER [VAR=VALUE...]: a copy of migrations/ owned by OWNER, generate with those settings.
generate_into() {
  local owner=$1 dir out file
  shift
  dir=$(mktemp -d "${TMPDIR:-/tmp}/migrate-e2e-host-migrations.XXXXXX")
  cp -a "$ROOT/migrations/." "$dir/" && chown -R "$owner" "$dir" && chmod 0755 "$dir" || return 1
  out=$(env MIGRATIONS_HOST_DIR="$dir" "$@" docker-compose "${MERGED[@]}" run --rm -T migrate generate "add users") || { rm -rf "$dir"; return 1; }
  echo "$out"
  file="$dir/0005_add_users.sql"
  ls -ln "$dir"
  if [ "$(printf '%s' "$out" | tail -n 1 | tr -d '\r')" != /app/migrations/0005_add_users.sql ] || [ ! -f "$file" ]; then
    echo "no $file on the host"
    rm -rf "$dir"
    return 1
  fi
  local got
  got=$(stat -c '%u:%g' "$file")
  rm -rf "$dir"
  [ "$got" = "$owner" ] || { echo "the file is owned by $got, wanted $owner"; return 1; }
}

# A shell in the image, with the mounted folder.
shell_in_image() {
  docker-compose "${MERGED[@]}" run --rm -T --entrypoint sh migrate -c \
    'id; migrate --version && test -s /app/migrations/.schema-fingerprints.json && echo SHELL OK' >"$LOGDIR/run.out" 2>&1 ||
    { cat "$LOGDIR/run.out"; return 1; }
  cat "$LOGDIR/run.out"
  grep -q 'SHELL OK' "$LOGDIR/run.out"
}

# ------------------------------------------------------------------ run ---

say "containers: end-to-end run of Dockerfile.backend and the compose files (project $PROJECT)"

[ "$(id -u)" = 0 ] || not_run "the private Docker engine needs root (dockerd), and this is uid $(id -u)"
command -v curl >/dev/null 2>&1 || not_run "curl is missing"

if ! "$ENGINE" status >/dev/null 2>&1; then
  "$ENGINE" start >/dev/null 2>"$LOGDIR/engine.err" || {
    cat "$LOGDIR/engine.err" >&2
    not_run "the Docker engine could not start: $(grep '^engine: error: ' "$LOGDIR/engine.err" | tail -n 1 | sed 's/^engine: error: //')"
  }
  started_engine=1
fi
eval "$("$ENGINE" env)"
export DOCKER_HOST
say "PASS  engine answers at $DOCKER_HOST ($(elapsed)s)"
passed=$((passed + 1))

if [ -n "${MIGRATE_E2E_PORT:-}" ]; then
  BACKEND_PORT=$MIGRATE_E2E_PORT
else
  BACKEND_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
fi
export BACKEND_PORT
P=$BACKEND_PORT

# Leftovers of an interrupted run.
timeout 120 docker-compose "${MERGED[@]}" down -v --remove-orphans >/dev/null 2>&1 || true

if ! step "base images (node:20-bookworm-slim, postgres:15-bookworm)" 900 "$BASE_IMAGES"; then
  summary
  exit 1
fi

say "--- docker-compose.container.yml: migrations at backend start"
if step "up -d --build (image build, postgres healthy, backend started)" 900 \
  docker-compose "${PLAIN[@]}" up -d --build; then
  step "backend /readyz 200 with state current" 180 expect_http "$P" /readyz 200 '"state":"current"'
  step "backend /healthz 200" 30 expect_http "$P" /healthz 200
  step "backend logs (entrypoint, migrate auto, app): one format, every line JSON" 30 backend_logs_one_format
  step "/users served from the migrated table (with display_name)" 60 users_served
  step "backend container healthy (image HEALTHCHECK)" 120 wait_healthy "$(container_of backend)"
  step "tini -g is PID 1 and the app replaced the entrypoint shell" 30 check_pid1
  step "exec backend migrate status --json: current at head" 60 \
    expect_status current 0004_orders_created_at_index docker-compose "${PLAIN[@]}" exec -T backend
  step "exec backend migrate check: exit 0, no findings, manifest in the image" 60 check_current_no_findings
  step "+ docker-compose.migrations.yml, up -d: no migrate container (profile migrations), /readyz 200" 120 profiled_up_starts_no_migrate
  step "+ docker-compose.migrations.yml, run --rm migrate current (the profile enabled by naming it)" 120 \
    migrate_current_with 0004_orders_created_at_index "${PROFILED[@]}"
  step "+ docker-compose.migrations.yml, --profile migrations run --rm migrate current" 120 \
    migrate_current_with 0004_orders_created_at_index "${PROFILED[@]}" --profile migrations
  step "LOG_LEVEL=verbose (not migrate's): the app starts anyway under continue" 90 bad_log_level_app_starts
  step "no migration files at all, fresh database: migrate check exits 0, /readyz 200" 120 no_files_ready
  step "exec backend migrate stamp 0002_create_orders" 60 \
    docker-compose "${PLAIN[@]}" exec -T backend migrate stamp 0002_create_orders
  step "exec backend migrate status --json: behind at 0002_create_orders" 60 \
    expect_status behind 0002_create_orders docker-compose "${PLAIN[@]}" exec -T backend
  step "backend /readyz 503 with state behind" 30 expect_http "$P" /readyz 503 '"state":"behind"'
  step "exec backend migrate stamp head, /readyz 200 again" 90 stamp_head_then_ready
  step "database never answers: entrypoint exits 4, app not started" 90 \
    expect_backend_run_exit 4 -e 'DATABASE_URL=postgres://app:x@postgres:1/appdb' -e WAIT_FOR_DB_TIMEOUT=3
  step "diverged history, MIGRATION_FAILURE_POLICY=exit: exits 3, app not started" 120 diverged_policy_exit
  step "SIGTERM: the backend stops at once with exit 0" 60 graceful_stop
else
  for s in readyz healthz logs users health pid1 status check profile-up profile-run profile-flag log-level no-files stamp status readyz stamp-head wait-exit-4 policy-exit stop; do skip "plain compose: $s"; done
fi
step "down -v" 120 docker-compose "${PLAIN[@]}" down -v --remove-orphans

say "--- + docker-compose.alembic.yml: a one-shot migrate service, on a fresh volume"
if step "run --rm migrate (auto on a fresh database)" 600 docker-compose "${MERGED[@]}" run --rm -T migrate; then
  step "run --rm migrate status --json: current" 120 \
    expect_status current 0004_orders_created_at_index docker-compose "${MERGED[@]}" run --rm -T
  step "run --rm migrate down --steps 1" 120 docker-compose "${MERGED[@]}" run --rm -T migrate down --steps 1
  step "run --rm migrate current: 0003_add_user_display_name" 120 migrate_current_is 0003_add_user_display_name
  step "run --rm backend migrate down --steps 1: that alone, no auto first" 120 backend_migrate_down_alone
  step "run --rm migrate current: 0002_create_orders" 120 migrate_current_is 0002_create_orders
  step "run --rm migrate downgrade -1, then upgrade +1 (Alembic's relative steps)" 180 \
    sh -c 'docker-compose "$@" run --rm -T migrate downgrade -1 && docker-compose "$@" run --rm -T migrate upgrade +1' _ "${MERGED[@]}"
  step "run --rm migrate current: 0002_create_orders again" 120 migrate_current_is 0002_create_orders
  step "run --rm migrate generate \"add users\": into the host folder, uid 1000 by default" 120 generate_into 1000:1000
  step "HOST_UID=\$(id -u) HOST_GID=\$(id -g) run --rm migrate generate: the file is the host user's" 120 \
    generate_into "$(id -u):$(id -g)" HOST_UID="$(id -u)" HOST_GID="$(id -g)"
  step "run --rm --entrypoint sh migrate: a shell in the image" 120 shell_in_image
  step "up -d: migrate completes, then the backend starts" 600 docker-compose "${MERGED[@]}" up -d
  step "backend /readyz 200 with state current" 180 expect_http "$P" /readyz 200 '"state":"current"'
  step "migrate service exited 0" 30 migrate_exited_zero
  step "backend skipped its own migration run (RUN_MIGRATIONS=false)" 30 backend_log_has 'skipping migrations'
else
  for s in status down current backend-down current relative current generate generate-uid shell up readyz migrate-exit backend-skip; do skip "alembic override: $s"; done
fi
step "down -v" 120 docker-compose "${MERGED[@]}" down -v --remove-orphans

summary
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
