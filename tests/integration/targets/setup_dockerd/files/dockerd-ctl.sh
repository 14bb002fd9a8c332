#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A dedicated dockerd for tests that must crash or reconfigure an engine without touching the
# shared one: its own data root, exec root, pid file, socket and config, and a Linux bridge of its own.
#
#   dockerd-ctl.sh start STATE_DIR [extra dockerd args...]   start (or restart) it; prints the unix:// address
#   dockerd-ctl.sh crash STATE_DIR                           SIGKILL it, like a crash (mounts, sockets stay)
#   dockerd-ctl.sh destroy STATE_DIR                         stop it, unmount and delete everything it had
#
# STATE_DIR (under build/) keeps the data root and dockerd.log. The exec root, socket and pid file
# live in a short directory under /tmp (unix socket paths are limited to 107 bytes), whose name is
# kept in STATE_DIR/run-dir so that a restart reuses the same socket address.
#
# Why a bridge of its own: a dockerd started with --bridge none deletes the host's docker0 (the main
# engine's default bridge). So each daemon gets `mbe<N>` (the first free N; address 198.18.N.1/24 from
# the benchmarking range RFC 2544 reserves, which nothing here routes; ifalias "moby.engine:STATE_DIR"),
# with --iptables=false --ip-masq=false: the host's other interfaces, routes and firewall stay as they
# were. Its name is kept in STATE_DIR/bridge; destroy deletes it, also after a crash.
set -euo pipefail

die() { printf 'dockerd-ctl: %s\n' "$*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 start|crash|destroy STATE_DIR [dockerd args...]"
cmd=$1 state=$2
shift 2
case "$state" in /*) ;; *) die "STATE_DIR must be absolute, got '$state'" ;; esac

run_dir() { cat "$state/run-dir" 2>/dev/null || true; }
daemon_pid() {  # the pid of our dockerd when it is running, else nothing
  local run pid
  run=$(run_dir)
  [ -n "$run" ] && pid=$(cat "$run/dockerd.pid" 2>/dev/null) || return 0
  # The pid file outlives a crash, and the number may have been reused: check that it is our daemon.
  if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "--exec-root $run/exec "; then
    echo "$pid"
  fi
}
bridge_alias() { echo "moby.engine:$state"; }
our_bridges() {  # our_bridges [ip link show args]: names of the links whose ifalias is exactly ours
  ip -o link show "$@" 2>/dev/null | awk -F': ' -v a=" alias $(bridge_alias)" \
    'substr($0, length($0) - length(a) + 1) == a { sub(/@.*/, "", $2); print $2 }'
}
bridge_ours() {  # bridge_ours NAME: NAME exists and carries our ifalias
  [ -n "$(our_bridges dev "$1")" ]
}
bridge_up() {  # prints the name of this daemon's bridge, creating it when missing
  local name n
  name=$(cat "$state/bridge" 2>/dev/null || true)
  if [ -n "$name" ] && bridge_ours "$name"; then echo "$name"; return 0; fi
  for n in $(seq 1 250); do
    name="mbe$n"
    # Skip a /24 that something else already routes; `ip link add` fails when the name is taken,
    # which also settles races between two starts.
    [ -z "$(ip -4 route show "198.18.$n.0/24" 2>/dev/null)" ] || continue
    ip link add name "$name" type bridge 2>/dev/null || continue
    echo "$name" >"$state/bridge"
    ip link set dev "$name" alias "$(bridge_alias)"
    ip addr add "198.18.$n.1/24" dev "$name"
    ip link set dev "$name" up
    echo "$name"
    return 0
  done
  die "no free bridge name mbe1..mbe250"
}
bridge_down() {  # delete our bridge (by the name we kept, and any other link with our ifalias)
  local name
  name=$(cat "$state/bridge" 2>/dev/null || true)
  if [ -n "$name" ] && bridge_ours "$name"; then ip link del dev "$name"; fi
  our_bridges type bridge | while read -r name; do ip link del dev "$name" 2>/dev/null || true; done
}
wait_gone() {  # wait_gone PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

case "$cmd" in
  start)
    command -v dockerd >/dev/null || die "dockerd is not installed (apt-get install docker.io)"
    command -v ip >/dev/null || die "ip is not installed (apt-get install iproute2)"
    [ -z "$(daemon_pid)" ] || die "a dockerd already runs for $state (pid $(daemon_pid))"
    mkdir -p "$state"
    [ -n "$(run_dir)" ] || mktemp -d /tmp/moby-dockerd.XXXXXX >"$state/run-dir"
    run=$(run_dir)
    mkdir -p "$run"
    # An empty config file, so that a host's /etc/docker/daemon.json (hosts, mirrors...) plays no part.
    echo '{}' >"$state/daemon.json"
    bridge=$(bridge_up)
    printf '=== %s start %s\n' "$(date -u +%FT%TZ)" "$*" >>"$state/dockerd.log"
    # setsid + nohup: the daemon outlives the ansible task that starts it. vfs needs no kernel
    # support beyond a plain directory; its own bridge, no iptables or masquerading: nothing else on
    # the host changes (never --bridge none: that deletes docker0).
    setsid nohup dockerd --config-file "$state/daemon.json" --data-root "$state/data" \
      --exec-root "$run/exec" --pidfile "$run/dockerd.pid" --host "unix://$run/docker.sock" \
      --storage-driver vfs --bridge "$bridge" --iptables=false --ip-masq=false "$@" \
      >>"$state/dockerd.log" 2>&1 </dev/null &
    starter=$!
    for _ in $(seq 150); do
      if [ "$(curl -fsS --max-time 2 --unix-socket "$run/docker.sock" http://localhost/_ping 2>/dev/null)" = OK ]; then
        echo "unix://$run/docker.sock"
        exit 0
      fi
      if ! kill -0 "$starter" 2>/dev/null; then
        tail -n 20 "$state/dockerd.log" >&2
        die "dockerd exited during start; see $state/dockerd.log"
      fi
      sleep 0.2
    done
    tail -n 20 "$state/dockerd.log" >&2
    die "dockerd did not answer /_ping within 30 s; see $state/dockerd.log"
    ;;
  crash)
    pid=$(daemon_pid)
    [ -n "$pid" ] || die "no dockerd runs for $state"
    containerd_pidfile="$(run_dir)/exec/containerd/containerd.pid"
    containerd=$(cat "$containerd_pidfile" 2>/dev/null || true)
    kill -KILL "$pid"
    wait_gone "$pid" 10 || die "dockerd $pid survived SIGKILL"
    # Docker 20.10 has its containerd killed when dockerd dies (parent-death signal). Until that containerd
    # is reaped, a restarted dockerd takes it for a live one (kill -0 succeeds on a zombie) and waits for
    # its socket in vain; a CI run once failed the restart with "timeout waiting for containerd to start".
    # So wait for it here, and say in the task's output what it was doing. A zombie is dead: its pid file
    # goes, so that dockerd starts a new containerd. One still running after 5 s is left to dockerd, which
    # reuses a live containerd.
    if [ -n "$containerd" ] && [ -d "/proc/$containerd" ]; then
      printf 'dockerd-ctl: containerd %s after the crash: %s\n' "$containerd" \
        "$(ps -o stat=,wchan:32=,comm= -p "$containerd" 2>/dev/null || echo gone)" >&2
      if ! wait_gone "$containerd" 5; then
        if [ "$(ps -o stat= -p "$containerd" 2>/dev/null | cut -c1)" = Z ]; then
          echo "dockerd-ctl: containerd $containerd is a zombie; removing its pid file" >&2
          rm -f "$containerd_pidfile"
        else
          echo "dockerd-ctl: containerd $containerd still runs; dockerd will reuse it" >&2
        fi
      fi
    fi
    ;;
  destroy)
    pid=$(daemon_pid)
    if [ -n "$pid" ]; then
      kill -TERM "$pid"
      wait_gone "$pid" 15 || { kill -KILL "$pid"; wait_gone "$pid" 5 || true; }
    fi
    run=$(run_dir)
    # dockerd bind-mounts its data root onto itself and does not undo that on a crash.
    for dir in "$state" ${run:+"$run"}; do
      awk -v dir="$dir" '$2 == dir || index($2, dir "/") == 1 {print $2}' /proc/mounts | sort -r |
        while read -r mountpoint; do umount -l "$mountpoint"; done
    done
    bridge_down
    rm -rf "$state" ${run:+"$run"}
    ;;
  *) die "unknown command '$cmd' (start|crash|destroy)" ;;
esac
