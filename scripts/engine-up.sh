#!/usr/bin/env bash
# Bring up everything the integration tests and the demo talk to, idempotently:
#   1. a Docker Engine answering GET /_ping (reuse a running one, else start dockerd),
#   2. a local registry (the docker-registry binary, not a container) on 127.0.0.1:$REGISTRY_PORT
#      with htpasswd (bcrypt) auth for the fixed user `moby`,
#   3. an offline base image `moby-test/busybox:latest` made from busybox-static (no internet needed),
#      also pushed to the registry as $REGISTRY/moby-test/busybox:latest,
#   4. build/integration_config.yml with the variables the tests and the demo read.
# Environment: DOCKER_HOST (unix:// only), REGISTRY_PORT (5000), DOCKERD_ARGS (extra dockerd flags).
# Everything it creates lives under build/, so `make clean` (plus `docker rmi`) undoes it.
# Rerunning is cheap: every step first checks whether its result is already there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
REG_DIR="$BUILD/registry"
REGISTRY_PORT=${REGISTRY_PORT:-5000}
REGISTRY="127.0.0.1:$REGISTRY_PORT"
REGISTRY_USER=moby
BASE_IMAGE=moby-test/busybox:latest
REGISTRY_BASE_IMAGE="$REGISTRY/$BASE_IMAGE"
PYTHON="$ROOT/.venv/bin/python"
# A private docker CLI config: `docker login` must never write into the user's ~/.docker.
export DOCKER_CONFIG="$BUILD/docker-config"

log() { printf '[engine-up] %s\n' "$*" >&2; }
die() { printf '[engine-up] ERROR: %s\n' "$*" >&2; exit 1; }

# --- engine address -------------------------------------------------------------------------
# Honour DOCKER_HOST when it names a unix socket; everything below talks to the socket with curl.
DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
case "$DOCKER_HOST" in
  unix://*) SOCK=${DOCKER_HOST#unix://} ;;
  *) die "DOCKER_HOST=$DOCKER_HOST is not a unix:// socket; only unix sockets are supported here." ;;
esac
export DOCKER_HOST

mkdir -p "$BUILD" "$REG_DIR"
# Two makes at once (demo and integration in two terminals) would race to start the same daemons.
# (The daemons started below get fd 9 closed, or they would hold the lock for ever.)
exec 9>"$BUILD/.engine-up.lock"
flock 9

# --- packages ---------------------------------------------------------------------------------
# On a fresh Debian CI machine nothing is installed. Install only what is missing, and run
# `apt-get update` at most once per invocation.
APT_UPDATED=
need_pkg() {  # need_pkg PACKAGE TEST-COMMAND...: install PACKAGE unless TEST-COMMAND succeeds
  local pkg=$1; shift
  if "$@" >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" = 0 ] || die "package '$pkg' is missing and we are not root: install it (apt-get install $pkg) or rerun as root."
  command -v apt-get >/dev/null 2>&1 || die "package '$pkg' is missing and apt-get is not available to install it."
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "installing $pkg"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >&2
}
need_pkg curl command -v curl
ping_engine() { curl -fsS --max-time 5 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null | grep -qx OK; }

# --- 1. engine --------------------------------------------------------------------------------
if ping_engine; then
  log "engine already answers on $SOCK; using it"
else
  [ "$(id -u)" = 0 ] || die "no Docker Engine answers on $SOCK and starting dockerd needs root. Start one yourself or rerun as root."
  need_pkg docker.io command -v dockerd
  [ "$SOCK" = /var/run/docker.sock ] || log "starting dockerd on the non-default socket $SOCK"
  log "starting dockerd (log: build/dockerd.log)"
  # setsid+nohup: the daemon must outlive this script and make's process group (there is no systemd).
  # DOCKERD_ARGS (unquoted on purpose, word-split) lets unusual hosts add flags, e.g. a second
  # daemon beside a running one: --data-root DIR --exec-root DIR --bridge BR --iptables=false, where BR
  # is a bridge of its own (ip link add name BR type bridge); never --bridge none: that deletes docker0.
  # shellcheck disable=SC2086
  setsid nohup dockerd --host "unix://$SOCK" --pidfile "$BUILD/dockerd.pid" ${DOCKERD_ARGS:-} \
    >"$BUILD/dockerd.log" 2>&1 </dev/null 9>&- &
  for _ in $(seq 60); do
    ping_engine && break
    # Stop waiting early when the daemon died, and show why.
    if ! kill -0 $! 2>/dev/null; then tail -n 30 "$BUILD/dockerd.log" >&2; die "dockerd exited; see build/dockerd.log"; fi
    sleep 1
  done
  ping_engine || { tail -n 30 "$BUILD/dockerd.log" >&2; die "dockerd did not answer /_ping within 60 s; see build/dockerd.log"; }
  log "dockerd is up (pid $(cat "$BUILD/dockerd.pid" 2>/dev/null || echo '?'))"
fi

# The rest needs the docker CLI, the registry, htpasswd and a static busybox.
need_pkg docker.io command -v docker
need_pkg docker-registry command -v docker-registry
need_pkg apache2-utils command -v htpasswd
# Only the static build runs inside an image that has no libc: check the package, not just a busybox binary.
need_pkg busybox-static dpkg -s busybox-static
# The engine_tls integration target makes its CA and certificates with the openssl CLI.
need_pkg openssl command -v openssl

# --- 2. registry ------------------------------------------------------------------------------
umask 077   # password, htpasswd and docker-config are secrets: owner-only
PASSWORD_FILE="$REG_DIR/password"
if [ ! -s "$PASSWORD_FILE" ]; then
  # Generated once; reruns reuse it so a running registry and the saved config stay valid.
  head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-24 >"$PASSWORD_FILE"
  log "generated a new registry password in build/registry/password"
fi
PASSWORD=$(cat "$PASSWORD_FILE")

# (Re)write htpasswd only when it does not accept the current password (bcrypt salts differ per run).
# -i reads the password from stdin so it never shows up in the process list.
if ! htpasswd -vi "$REG_DIR/htpasswd" "$REGISTRY_USER" <<<"$PASSWORD" >/dev/null 2>&1; then
  htpasswd -Bni "$REGISTRY_USER" <<<"$PASSWORD" >"$REG_DIR/htpasswd"
fi

mkdir -p "$REG_DIR/storage"
REG_CONFIG="$REG_DIR/config.yml"
NEW_CONFIG=$(cat <<EOF
# Generated by scripts/engine-up.sh: local test registry for moby.engine
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $REG_DIR/storage
  delete:
    enabled: true
http:
  addr: $REGISTRY
  secret: moby-engine-test-registry
auth:
  htpasswd:
    realm: moby-engine-test
    path: $REG_DIR/htpasswd
EOF
)
if [ ! -f "$REG_CONFIG" ] || [ "$(cat "$REG_CONFIG")" != "$NEW_CONFIG" ]; then
  printf '%s\n' "$NEW_CONFIG" >"$REG_CONFIG"
  CONFIG_CHANGED=1
else
  CONFIG_CHANGED=
fi

# curl reads the credentials from stdin (-K -), again to keep the password off the command line.
registry_curl() { printf 'user = "%s:%s"\n' "$REGISTRY_USER" "$PASSWORD" | curl -K - -sS --max-time 5 "$@"; }
registry_ok() { [ "$(registry_curl -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/" 2>/dev/null)" = 200 ]; }
REG_PIDFILE="$REG_DIR/registry.pid"
our_registry_pid() {  # prints the pid of the registry we started, if it is still running with our config
  local pid
  pid=$(cat "$REG_PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$REG_CONFIG" || return 1
  echo "$pid"
}

if pid=$(our_registry_pid) && [ -z "$CONFIG_CHANGED" ] && registry_ok; then
  log "registry already running on $REGISTRY (pid $pid); reusing it"
else
  if pid=$(our_registry_pid); then
    log "restarting our registry (pid $pid): its config changed or it does not accept our credentials"
    kill "$pid"
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  # Something else on the port would make our registry fail to bind: say so instead of guessing.
  if curl -s -o /dev/null --max-time 2 "http://$REGISTRY/v2/"; then
    die "something that is not our registry already listens on $REGISTRY; stop it or set REGISTRY_PORT."
  fi
  log "starting docker-registry on $REGISTRY (log: build/registry.log)"
  setsid nohup docker-registry serve "$REG_CONFIG" >"$BUILD/registry.log" 2>&1 </dev/null 9>&- &
  echo $! >"$REG_PIDFILE"
  for _ in $(seq 40); do registry_ok && break; sleep 0.25; done
  registry_ok || { tail -n 20 "$BUILD/registry.log" >&2; die "registry did not come up on $REGISTRY; see build/registry.log"; }
fi

# Log the docker CLI in with the private DOCKER_CONFIG so `docker push` can seed the registry.
mkdir -p "$DOCKER_CONFIG"
docker login -u "$REGISTRY_USER" --password-stdin "$REGISTRY" <<<"$PASSWORD" >/dev/null 2>&1 \
  || die "docker login to $REGISTRY failed"
umask 022

# --- 3. offline base image --------------------------------------------------------------------
# build/busybox-rootfs is kept even when the image exists: the integration targets import their own
# uniquely labelled images from it (setup_moby/tasks/make_image.yml). Rebuilt when busybox changed.
ROOTFS="$BUILD/busybox-rootfs"
BUSYBOX=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
if ! cmp -s "$BUSYBOX" "$ROOTFS/bin/busybox"; then
  log "making build/busybox-rootfs from $BUSYBOX"
  rm -rf "$ROOTFS"
  mkdir -p "$ROOTFS/bin" "$ROOTFS/tmp" "$ROOTFS/etc"
  cp "$BUSYBOX" "$ROOTFS/bin/busybox"
  for applet in sh ls cat echo true sleep env touch mkdir rm test wc id date; do
    ln -s busybox "$ROOTFS/bin/$applet"
  done
  chmod 1777 "$ROOTFS/tmp"
fi
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$BASE_IMAGE already present"
else
  log "importing $BASE_IMAGE from build/busybox-rootfs"
  # Numeric owners so the image does not depend on this machine's users.
  tar --numeric-owner --owner=0 --group=0 -C "$ROOTFS" -cf - . \
    | docker import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
        --message 'moby.engine offline test image (busybox-static)' - "$BASE_IMAGE" >/dev/null
fi

# Seed the registry only when it does not hold the image yet (its storage persists in build/registry).
MANIFEST_URL="http://$REGISTRY/v2/${BASE_IMAGE%:*}/manifests/${BASE_IMAGE##*:}"
if [ "$(registry_curl -o /dev/null -w '%{http_code}' -I \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$MANIFEST_URL")" = 200 ]; then
  log "$REGISTRY_BASE_IMAGE already in the registry"
else
  log "pushing $REGISTRY_BASE_IMAGE"
  docker tag "$BASE_IMAGE" "$REGISTRY_BASE_IMAGE"
  docker push "$REGISTRY_BASE_IMAGE" >/dev/null
fi

# --- 4. integration config --------------------------------------------------------------------
# Read by ansible-test (copied to tests/integration/integration_config.yml) and by `make demo` (-e @...).
# JSON-style quoting keeps YAML happy whatever characters the values hold.
q() { printf '"%s"' "$1"; }
umask 077   # it holds the registry password
cat >"$BUILD/integration_config.yml" <<EOF
---
# Generated by scripts/engine-up.sh; do not edit (rerun \`make engine\`).
moby_docker_host: $(q "$DOCKER_HOST")
moby_python: $(q "$PYTHON")
moby_registry: $(q "$REGISTRY")
moby_registry_user: $(q "$REGISTRY_USER")
moby_registry_password: $(q "$PASSWORD")
moby_base_image: $(q "$BASE_IMAGE")
moby_registry_base_image: $(q "$REGISTRY_BASE_IMAGE")
moby_build_dir: $(q "$BUILD")
EOF
log "ready: engine $DOCKER_HOST, registry $REGISTRY (user $REGISTRY_USER), base image $BASE_IMAGE"
log "wrote build/integration_config.yml"
