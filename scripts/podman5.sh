#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Podman 5 (Debian 13's) for the integration suite's Podman 5 pass (make test-podman5):
#
#   scripts/podman5.sh up      make the Debian 13 root once (debootstrap, podman and runc), mount what it needs,
#                              start `podman system service` in it, import the offline base image, and write
#                              build/integration_config.podman5.yml
#   scripts/podman5.sh down    stop the service and every process it started; unmount everything
#
# The root lives in build/podman5/root. Podman there runs with runc: its default runtime, crun, refuses this
# machine's hybrid cgroup setup. Its configuration is private (CONTAINERS_* files under /etc/moby-test in the
# root); the host's /etc/containers and network are never touched (no container network: netns none).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
DIR="$BUILD/podman5"
R="$DIR/root"
SOCK_IN_ROOT=/run/moby-test/podman.sock
PIDFILE="$DIR/service.pid"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '[podman5] %s\n' "$*" >&2; }
die() { printf '[podman5] ERROR: %s\n' "$*" >&2; exit 1; }

in_root() {  # run a command in the root with the private configuration
  chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    CONTAINERS_CONF=/etc/moby-test/containers.conf CONTAINERS_STORAGE_CONF=/etc/moby-test/storage.conf \
    CONTAINERS_REGISTRIES_CONF=/etc/moby-test/registries.conf PODMAN_IGNORE_CGROUPSV1_WARNING=1 "$@"
}

make_root() {
  [ -x "$R/usr/bin/podman" ] && [ -x "$R/usr/bin/runc" ] && return
  command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get update -qq;
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
  rm -rf "$R"
  mkdir -p "$R"
  log "debootstrap trixie (podman, runc) into build/podman5/root (log: build/podman5/debootstrap.log)"
  debootstrap --variant=minbase --include=podman,runc,ca-certificates trixie "$R" "$MIRROR" \
    >"$DIR/debootstrap.log" 2>&1 || { tail -n 20 "$DIR/debootstrap.log" >&2; die "debootstrap failed"; }
}

mount_root() {
  mountpoint -q "$R" || mount --bind "$R" "$R"
  mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
  mountpoint -q "$R/sys" || mount --rbind /sys "$R/sys"
  mountpoint -q "$R/dev" || mount --rbind /dev "$R/dev"
  mountpoint -q "$R/run" || mount -t tmpfs -o mode=0755 tmpfs "$R/run"
  mkdir -p "$R/run/moby-test"
}

container_limit() { local v; v=$(ulimit -H"$1"); if [ "$v" = unlimited ] || [ "$v" -gt 4096 ]; then v=4096; fi; echo "$v"; }

write_config() {
  local registry
  registry=$(sed -n 's/^moby_registry: "\(.*\)"$/\1/p' "$BUILD/integration_config.yml")
  [ -n "$registry" ] || die "no moby_registry in build/integration_config.yml; run 'make engine' first"
  mkdir -p "$R/etc/moby-test"
  cat >"$R/etc/moby-test/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "permissive"

[[registry]]
location = "$registry"
insecure = true
EOF
  cat >"$R/etc/moby-test/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "/var/lib/moby-test/storage"
runroot = "/run/moby-test/storage"
EOF
  # runc: crun refuses the hybrid cgroups here. Containers share the host's network namespace, so nothing is
  # created on the host. Podman raises every container's RLIMIT_NOFILE/NPROC to 1048576, which this machine
  # refuses ("error setting rlimits"); lowering is always allowed: 4096, or less where the limit is lower.
  cat >"$R/etc/moby-test/containers.conf" <<EOF
[containers]
netns = "host"
default_ulimits = ["nofile=$(container_limit n):$(container_limit n)", "nproc=$(container_limit u):$(container_limit u)"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
}

up() {
  [ -f "$BUILD/integration_config.yml" ] || die "build/integration_config.yml missing: run 'make engine' first"
  mkdir -p "$DIR"
  make_root
  mount_root
  write_config
  if [ -S "$R$SOCK_IN_ROOT" ] && pid=$(cat "$PIDFILE" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; then
    log "service already running (pid $pid)"
  else
    rm -f "$R$SOCK_IN_ROOT"
    setsid nohup chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      CONTAINERS_CONF=/etc/moby-test/containers.conf CONTAINERS_STORAGE_CONF=/etc/moby-test/storage.conf \
      CONTAINERS_REGISTRIES_CONF=/etc/moby-test/registries.conf PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
      podman system service --time=0 "unix://$SOCK_IN_ROOT" >"$DIR/service.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 60); do [ -S "$R$SOCK_IN_ROOT" ] && break; sleep 0.25; done
    [ -S "$R$SOCK_IN_ROOT" ] || { tail -n 20 "$DIR/service.log" >&2; die "the service did not come up"; }
  fi
  if ! in_root podman image exists moby-test/busybox:latest; then
    log "importing moby-test/busybox:latest from build/busybox-rootfs"
    tar -C "$BUILD/busybox-rootfs" -c . | in_root podman import - moby-test/busybox:latest >/dev/null
  fi
  log "Podman $(in_root podman version --format "{{.Server.Version}}" 2>/dev/null)"
  (umask 077; sed "s|^moby_docker_host:.*|moby_docker_host: \"unix://$R$SOCK_IN_ROOT\"|" \
    "$BUILD/integration_config.yml" >"$BUILD/integration_config.podman5.yml")
  log "wrote build/integration_config.podman5.yml"
}

down() {
  local pid
  if pid=$(cat "$PIDFILE" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; then
    log "stopping the service (process group $pid)"
    kill -- "-$pid" 2>/dev/null || kill "$pid"
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  # Whatever still runs from the root (conmon, a container's process) goes too, before the unmounts.
  local proc
  for proc in /proc/[0-9]*; do
    if [ "$(readlink "$proc/root" 2>/dev/null)" = "$R" ]; then kill -9 "${proc#/proc/}" 2>/dev/null || true; fi
  done
  local m
  for m in "$R/run" "$R/dev" "$R/sys" "$R/proc" "$R"; do
    mountpoint -q "$m" && umount -R "$m"
  done
  if mount | grep -q " $R"; then die "still mounted under $R"; fi
  log "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down" ;;
esac
