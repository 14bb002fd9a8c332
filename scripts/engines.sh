#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Extra Docker engines for the engine matrix (make test-matrix), beside the system engine:
#
#   scripts/engines.sh up     [NAME...]   start them (all by default), seed the base image, write
#                                         build/integration_config.<NAME>.yml
#   scripts/engines.sh down   [NAME...]   stop them and remove everything they had (also after a crash)
#   scripts/engines.sh status [NAME...]   version, API range and image store of each running one
#
# Engines (Debian unstable's docker.io 28.5 with containerd 2.1, see scripts/engines-get.sh):
#   d28-classic      classic image store (overlay2)
#   d28-containerd   containerd image store ("features": {"containerd-snapshotter": true})
#   d28-min144       classic store, DOCKER_MIN_API_VERSION=1.44: refuses clients older than API 1.44,
#                    as Docker 29 does
# Each has its own containerd (root, state, socket), data root, exec root, pid files, unix socket
# (build/run/<NAME>/docker.sock), daemon.json and Linux bridge `mbe<N>` (198.18.N.1/24, ifalias
# "moby.engine:<state dir>", as tests/integration/targets/setup_dockerd/files/dockerd-ctl.sh makes
# them; never --bridge none, which deletes the host's docker0), with --iptables=false --ip-masq=false.
# Debian's docker.io does not ship runc (and unstable's runc package needs a newer libc than Debian
# 12's): the engines find the system's /usr/sbin/runc on PATH (Docker reserves the runtime name
# "runc", so daemon.json cannot point it elsewhere).
# Needs `make engine` first (the registry, its password and build/integration_config.yml).
# State: build/engines/state/<NAME> (deleted by down); logs: build/engines/logs/<NAME>-*.log (kept).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
ALL_ENGINES=(d28-classic d28-containerd d28-min144)
LOGS="$BUILD/engines/logs"
BASE_CONFIG="$BUILD/integration_config.yml"

log() { printf '[engines] %s\n' "$*" >&2; }
die() { printf '[engines] ERROR: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 up|down|status [NAME...]"
cmd=$1; shift
engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=("${ALL_ENGINES[@]}")
for name in "${engines[@]}"; do
  case " ${ALL_ENGINES[*]} " in *" $name "*) ;; *) die "unknown engine '$name' (${ALL_ENGINES[*]})" ;; esac
done

state_of() { echo "$BUILD/engines/state/$1"; }
run_of() { echo "$BUILD/run/$1"; }   # short: unix socket paths are limited to 107 bytes
sock_of() { echo "$(run_of "$1")/docker.sock"; }

api() {  # api NAME PATH [curl args]: GET (or what the args say) on the engine's socket
  local name=$1 path=$2; shift 2
  curl -fsS --max-time 30 --unix-socket "$(sock_of "$name")" "$@" "http://localhost$path"
}
ping() { [ "$(api "$1" /_ping --max-time 3 2>/dev/null)" = OK ]; }

# --- processes ----------------------------------------------------------------------------------
# Our processes are the ones whose command line names the engine's state or run directory: dockerd,
# containerd and containerd's shims. A pid number alone may have been reused after a crash.
our_pids() {  # our_pids NAME [PATTERN]: pids of the engine's processes (those matching PATTERN)
  local state run pid cmdline
  state=$(state_of "$1") run=$(run_of "$1")
  for pid in $(ps -e -o pid=); do
    [ "$pid" != "$$" ] || continue
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
    case "$cmdline" in *"$state/"* | *"$run/"*) ;; *) continue ;; esac
    case "$cmdline" in *"${2:-}"*) echo "$pid" ;; esac
  done
}
stop_pids() {  # stop_pids SIGNAL SECONDS PID...: signal them, wait, SIGKILL what is left
  local sig=$1 secs=$2 pid i
  shift 2
  [ $# -gt 0 ] || return 0
  kill "-$sig" "$@" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && break; pid=; done
    [ -n "${pid:-}" ] || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  sleep 0.5
}

# --- bridge (same scheme as dockerd-ctl.sh) ------------------------------------------------------
our_bridges() {  # our_bridges STATE [ip link show args]: links whose ifalias is "moby.engine:STATE"
  local state=$1; shift
  ip -o link show "$@" 2>/dev/null | awk -F': ' -v a=" alias moby.engine:$state" \
    'substr($0, length($0) - length(a) + 1) == a { sub(/@.*/, "", $2); print $2 }'
}
bridge_up() {  # bridge_up STATE: prints the engine's bridge, creating it when missing
  local state=$1 name n
  name=$(cat "$state/bridge" 2>/dev/null || true)
  if [ -n "$name" ] && [ -n "$(our_bridges "$state" dev "$name")" ]; then echo "$name"; return 0; fi
  for n in $(seq 1 250); do
    name="mbe$n"
    [ -z "$(ip -4 route show "198.18.$n.0/24" 2>/dev/null)" ] || continue
    ip link add name "$name" type bridge 2>/dev/null || continue
    echo "$name" >"$state/bridge"
    ip link set dev "$name" alias "moby.engine:$state"
    ip addr add "198.18.$n.1/24" dev "$name"
    ip link set dev "$name" up
    echo "$name"
    return 0
  done
  die "no free bridge name mbe1..mbe250"
}
bridge_down() {  # bridge_down STATE
  local name
  our_bridges "$1" type bridge | while read -r name; do ip link del dev "$name" 2>/dev/null || true; done
}

# --- down ---------------------------------------------------------------------------------------
down() {
  local name=$1 state run pids mountpoint task
  state=$(state_of "$name") run=$(run_of "$name")
  # dockerd first (it stops its containers), then what is left of the containers' tasks, then
  # containerd, then any shim a crash left behind.
  pids=$(our_pids "$name" dockerd)
  if [ -n "$pids" ]; then
    log "$name: stopping dockerd ($(echo "$pids" | tr '\n' ' '))"
    # shellcheck disable=SC2086
    stop_pids TERM 30 $pids
  fi
  if [ -S "$run/containerd.sock" ] && [ -n "$(our_pids "$name" "containerd --config")" ]; then
    for task in $(ctr_ "$name" tasks ls -q 2>/dev/null); do
      ctr_ "$name" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
  fi
  pids=$(our_pids "$name" "containerd --config")
  if [ -n "$pids" ]; then
    log "$name: stopping containerd ($(echo "$pids" | tr '\n' ' '))"
    # shellcheck disable=SC2086
    stop_pids TERM 15 $pids
  fi
  pids=$(our_pids "$name")
  if [ -n "$pids" ]; then
    log "$name: killing leftover processes ($(echo "$pids" | tr '\n' ' '))"
    # shellcheck disable=SC2086
    stop_pids KILL 5 $pids
  fi
  # Overlay, shm and network-namespace mounts survive a crash: innermost first.
  for dir in "$state" "$run"; do
    awk -v dir="$dir" '$2 == dir || index($2, dir "/") == 1 {print $2}' /proc/mounts | sort -r |
      while read -r mountpoint; do umount -l "$mountpoint" 2>/dev/null || true; done
  done
  bridge_down "$state"
  rm -rf "$state" "$run"
}
ctr_() {  # ctr_ NAME ARGS...: the engine's containerd, Docker's namespace
  local name=$1; shift
  "$ENGINE_DIR/usr/bin/ctr" --address "$(run_of "$name")/containerd.sock" --namespace moby "$@"
}

# --- up -----------------------------------------------------------------------------------------
write_configs() {  # write_configs NAME: containerd.toml and daemon.json
  local name=$1 state run features='' driver=overlay2
  state=$(state_of "$name") run=$(run_of "$name")
  cat >"$state/containerd.toml" <<TOML
# Generated by scripts/engines.sh for $name.
version = 3
root = "$state/containerd"
state = "$run/containerd"
# Docker needs none of Kubernetes' CRI (and its CNI setup).
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.nri.v1.nri"]

[grpc]
  address = "$run/containerd.sock"

[ttrpc]
  address = "$run/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$state/opt"
TOML
  case "$name" in
    d28-containerd) features='"features": {"containerd-snapshotter": true},' driver=overlayfs ;;
  esac
  # overlay2 (classic store) or the overlayfs snapshotter (containerd store): both work on this
  # machine's ext4. The classic store takes 127.0.0.0/8 as insecure by default, the containerd store's
  # resolver does not: the tests' registries and fault proxies on loopback ports need it said.
  cat >"$state/daemon.json" <<JSON
{
  $features
  "storage-driver": "$driver",
  "insecure-registries": ["127.0.0.0/8"]
}
JSON
}

up() {
  local name=$1 state run sock bridge pid i env_args=()
  state=$(state_of "$name") run=$(run_of "$name") sock=$(sock_of "$name")
  if ping "$name"; then
    log "$name: already answers on $sock"
  else
    down "$name"   # whatever a crashed or interrupted earlier run left
    mkdir -p "$state" "$run" "$LOGS"
    write_configs "$name"
    bridge=$(bridge_up "$state")
    case "$name" in d28-min144) env_args=(DOCKER_MIN_API_VERSION=1.44) ;; esac
    printf '=== %s up\n' "$(date -u +%FT%TZ)" | tee -a "$LOGS/$name-containerd.log" "$LOGS/$name-dockerd.log" >/dev/null
    # setsid + nohup: the daemons outlive this script and make's process group. Our unpacked
    # binaries first on PATH (containerd finds its shim there, dockerd docker-init and
    # docker-proxy), then the system's /usr/sbin for runc.
    log "$name: starting containerd (log: build/engines/logs/$name-containerd.log)"
    PATH="$ENGINE_DIR/usr/sbin:$ENGINE_DIR/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      setsid nohup "$ENGINE_DIR/usr/bin/containerd" --config "$state/containerd.toml" \
      >>"$LOGS/$name-containerd.log" 2>&1 </dev/null &
    for i in $(seq 100); do [ -S "$run/containerd.sock" ] && break; sleep 0.1; done
    [ -S "$run/containerd.sock" ] || { tail -n 20 "$LOGS/$name-containerd.log" >&2; die "$name: containerd did not start"; }
    log "$name: starting dockerd on $sock, bridge $bridge (log: build/engines/logs/$name-dockerd.log)"
    env "${env_args[@]}" PATH="$ENGINE_DIR/usr/sbin:$ENGINE_DIR/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      setsid nohup "$ENGINE_DIR/usr/sbin/dockerd" --config-file "$state/daemon.json" \
      --data-root "$state/data" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
      --host "unix://$sock" --containerd "$run/containerd.sock" \
      --bridge "$bridge" --iptables=false --ip-masq=false \
      >>"$LOGS/$name-dockerd.log" 2>&1 </dev/null &
    pid=$!
    for i in $(seq 120); do
      ping "$name" && break
      kill -0 "$pid" 2>/dev/null || { tail -n 20 "$LOGS/$name-dockerd.log" >&2; die "$name: dockerd exited"; }
      sleep 0.5
    done
    ping "$name" || { tail -n 20 "$LOGS/$name-dockerd.log" >&2; die "$name: dockerd did not answer /_ping within 60 s"; }
  fi
  seed "$name"
  write_integration_config "$name"
}

# The base image, pulled from the test registry as the tests' engines get it (this also shows that
# the engine reaches the registry), and tagged with the name the tests use.
seed() {
  local name=$1 user password registry base auth
  user=$(config_value moby_registry_user) password=$(cat "$BUILD/registry/password")
  registry=$(config_value moby_registry) base=$(config_value moby_base_image)
  if api "$name" "/images/$base/json" -o /dev/null 2>/dev/null; then
    log "$name: $base already present"
    return 0
  fi
  log "$name: pulling $registry/$base"
  auth=$(printf '{"username":"%s","password":"%s","serveraddress":"%s"}' "$user" "$password" "$registry" \
    | base64 -w0 | tr '+/' '-_')
  # The header comes from stdin (-H @-): the password stays out of the process list.
  printf 'X-Registry-Auth: %s\n' "$auth" \
    | api "$name" "/images/create?fromImage=$registry/${base%:*}&tag=${base##*:}" -X POST -H @- -o "$LOGS/$name-seed.log"
  if grep -q '"error' "$LOGS/$name-seed.log"; then cat "$LOGS/$name-seed.log" >&2; die "$name: pull of $registry/$base failed"; fi
  api "$name" "/images/$registry/$base/tag?repo=${base%:*}&tag=${base##*:}" -X POST -o /dev/null
}
config_value() {  # config_value KEY: a value of build/integration_config.yml
  awk -v k="$1:" '$1 == k { sub(/^[^:]+: */, ""); gsub(/^"|"$/, ""); print; exit }' "$BASE_CONFIG"
}
write_integration_config() {
  local name=$1 out="$BUILD/integration_config.$1.yml"
  (
    umask 077   # it holds the registry password
    printf -- '---\n# Generated by scripts/engines.sh from build/integration_config.yml for the engine %s.\n' "$name"
    grep -v -e '^---' -e '^#' -e '^moby_docker_host:' "$BASE_CONFIG"
    printf 'moby_docker_host: "unix://%s"\n' "$(sock_of "$name")"
  ) >"$out"
  log "$name: wrote build/integration_config.$name.yml"
}

status() {
  local name=$1
  if ! ping "$name"; then echo "$name: not running"; return 0; fi
  api "$name" /version | python3 -c '
import json, sys
v = json.load(sys.stdin)
print("%s: Docker %s, API %s (minimum %s)" % (sys.argv[1], v["Version"], v["ApiVersion"], v["MinAPIVersion"]))' "$name"
  api "$name" /info | python3 -c '
import json, sys
i = json.load(sys.stdin)
print("%s: Driver %s, DriverStatus %s, containerd %s" % (sys.argv[1], i["Driver"], i.get("DriverStatus"), i.get("ContainerdCommit", {}).get("ID")))' "$name"
}

case "$cmd" in
  up)
    [ "$(id -u)" = 0 ] || die "starting engines needs root"
    [ -f "$BASE_CONFIG" ] || die "build/integration_config.yml missing: run 'make engine' first"
    ENGINE_DIR=$("$ROOT/scripts/engines-get.sh")
    for name in "${engines[@]}"; do up "$name"; done
    for name in "${engines[@]}"; do status "$name"; done
    ;;
  down)
    dirs=("$BUILD"/engines/docker-*)
    ENGINE_DIR=${dirs[-1]}
    for name in "${engines[@]}"; do down "$name"; done
    ;;
  status)
    for name in "${engines[@]}"; do status "$name"; done
    ;;
  *) die "unknown command '$cmd' (up|down|status)" ;;
esac
