#!/bin/sh
# Entrypoint of the locally built stand-in for postgres:15-bookworm (see
# ../base-images.sh). It follows the official image's contract as far as the
# tests need it:
#   POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required unless
#   POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default POSTGRES_USER),
#   PGDATA (default /var/lib/postgresql/data), POSTGRES_INITDB_ARGS;
#   initdb on the first start only; listens on every address; host connections
#   use scram-sha-256 (md5 with POSTGRES_HOST_AUTH_METHOD=md5); runs as postgres.
set -eu

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-}"
POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

say() { printf 'postgres-entrypoint: %s\n' "$*" >&2; }

# `docker run IMAGE -c foo=bar` means `postgres -c foo=bar`.
case "${1:-}" in
  -*) set -- postgres "$@" ;;
  '') set -- postgres ;;
esac

if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 2775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    say "error: the database is uninitialized and POSTGRES_PASSWORD is not set"
    say "set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without one"
    exit 1
  fi
  say "initializing $PGDATA for user $POSTGRES_USER"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  pw_arg=""
  [ -n "$POSTGRES_PASSWORD" ] && pw_arg="--pwfile=$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image
  initdb --username="$POSTGRES_USER" $pw_arg --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" ${POSTGRES_INITDB_ARGS:-} >&2
  rm -f "$pwfile"
  printf '\n# added by the entrypoint: connections from any address\nhost all all all %s\n' \
    "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.auto.conf"

  # A temporary server on the socket only, so nothing connects from outside
  # (and pg_isready over TCP stays negative) before the database exists.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >&2
  if [ "$POSTGRES_DB" != postgres ]; then
    say "creating database $POSTGRES_DB"
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username="$POSTGRES_USER" --dbname=postgres \
      --set=db="$POSTGRES_DB" <<'SQL' >&2
SELECT format('CREATE DATABASE %I', :'db') \gexec
SQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    # shellcheck disable=SC1090 # *.sh init scripts are sourced, as in the official image
    case "$f" in
      *.sh) say "running $f"; . "$f" ;;
      *.sql) say "running $f"; psql -v ON_ERROR_STOP=1 --no-psqlrc --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" -f "$f" >&2 ;;
      *) say "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  say "initialization complete"
fi

say "starting PostgreSQL"
exec "$@"
