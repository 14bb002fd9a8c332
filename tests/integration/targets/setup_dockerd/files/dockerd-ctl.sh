#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A dedicated dockerd for tests that must crash or reconfigure an engine without touching the
# shared one: its own data root, exec root, pid file, socket and config, no networking.
#
#   dockerd-ctl.sh start STATE_DIR [extra dockerd args...]   start (or restart) it; prints the unix:// address
#   dockerd-ctl.sh crash STATE_DIR                           SIGKILL it, like a crash (mounts, sockets stay)
#   dockerd-ctl.sh destroy STATE_DIR                         stop it, unmount and delete everything it had
#
# STATE_DIR (under build/) keeps the data root and dockerd.log. The exec root, socket and pid file
# live in a short directory under /tmp (unix socket paths are limited to 107 bytes), whose name is
# kept in STATE_DIR/run-dir so that a restart reuses the same socket address.
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
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--exec-root $run/exec "; then
    echo "$pid"
  fi
}
wait_gone() {  # wait_gone PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

case "$cmd" in
  start)
    command -v dockerd >/dev/null || die "dockerd is not installed (apt-get install docker.io)"
    [ -z "$(daemon_pid)" ] || die "a dockerd already runs for $state (pid $(daemon_pid))"
    mkdir -p "$state"
    [ -n "$(run_dir)" ] || mktemp -d /tmp/moby-dockerd.XXXXXX >"$state/run-dir"
    run=$(run_dir)
    mkdir -p "$run"
    # An empty config file, so that a host's /etc/docker/daemon.json (hosts, mirrors...) plays no part.
    echo '{}' >"$state/daemon.json"
    printf '=== %s start %s\n' "$(date -u +%FT%TZ)" "$*" >>"$state/dockerd.log"
    # setsid + nohup: the daemon outlives the ansible task that starts it. vfs needs no kernel
    # support beyond a plain directory; no bridge, iptables or masquerading: nothing on the host changes.
    setsid nohup dockerd --config-file "$state/daemon.json" --data-root "$state/data" \
      --exec-root "$run/exec" --pidfile "$run/dockerd.pid" --host "unix://$run/docker.sock" \
      --storage-driver vfs --bridge none --iptables=false --ip-masq=false "$@" \
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
    kill -KILL "$pid"
    wait_gone "$pid" 10 || die "dockerd $pid survived SIGKILL"
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
    rm -rf "$state" ${run:+"$run"}
    ;;
  *) die "unknown command '$cmd' (start|crash|destroy)" ;;
esac
