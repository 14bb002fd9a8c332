#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# An sshd of the test's own on 127.0.0.1, for ssh:// engines: own host key, own client key, own
# configuration, nothing installed on the machine. When the machine has no sshd, Debian's
# openssh-server (and libwrap0, which it needs) are downloaded and unpacked under BUILD_DIR/sshd.
#
#   sshd-ctl.sh start STATE_DIR BUILD_DIR   prints the port; writes STATE_DIR/ssh_config for ssh -F
#   sshd-ctl.sh stop STATE_DIR              stops it and removes what start made outside STATE_DIR
set -euo pipefail

die() { printf 'sshd-ctl: %s\n' "$*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: $0 start STATE_DIR BUILD_DIR | stop STATE_DIR"
cmd=$1 state=$2

find_sshd() {  # find_sshd BUILD_DIR: prints the sshd to run, and the library path it needs
  local build=$1 root
  if [ -x /usr/sbin/sshd ]; then echo "/usr/sbin/sshd"; return; fi
  root="$build/sshd/root"
  if [ ! -x "$root/usr/sbin/sshd" ]; then
    mkdir -p "$build/sshd/debs"
    # A fresh machine may have no package lists yet.
    (cd "$build/sshd/debs" && { apt-get download openssh-server libwrap0 >&2 ||
      { apt-get update -qq >&2 && apt-get download openssh-server libwrap0 >&2; }; }) ||
      die "cannot download openssh-server and libwrap0"
    for deb in "$build"/sshd/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
  fi
  echo "$root/usr/sbin/sshd"
}

case "$cmd" in
  start)
    [ $# -ge 3 ] || die "start needs STATE_DIR BUILD_DIR"
    build=$3
    mkdir -p "$state"
    sshd=$(find_sshd "$build")
    # Libraries unpacked beside an unpacked sshd (libwrap0); empty for the machine's own sshd.
    libs=$(find "$(dirname "$(dirname "$sshd")")/lib" -maxdepth 1 -name '*-linux-gnu' -type d 2>/dev/null | head -n 1)
    [ -f "$state/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$state/host_key"
    [ -f "$state/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$state/client_key"
    cp "$state/client_key.pub" "$state/authorized_keys"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$state/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $state/host_key
AuthorizedKeysFile $state/authorized_keys
PidFile $state/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
CONF
    cat >"$state/ssh_config" <<CONF
Host 127.0.0.1
  IdentityFile $state/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $state/known_hosts
  StrictHostKeyChecking accept-new
CONF
    # sshd needs its privilege separation directory; made here only when missing, and removed by stop then.
    if [ ! -d /run/sshd ]; then mkdir -m 0755 /run/sshd; touch "$state/made-run-sshd"; fi
    # sshd wants its privilege separation user; when the machine has none, a copy of /etc/passwd with one is
    # bind-mounted over the real one in a mount namespace of sshd's own, so nothing on the machine changes.
    cp /etc/passwd "$state/passwd"
    getent passwd sshd >/dev/null || echo 'sshd:x:65534:65534:sshd privilege separation:/run/sshd:/usr/sbin/nologin' >>"$state/passwd"
    # shellcheck disable=SC2016 # the inner shell expands its own positional parameters
    LD_LIBRARY_PATH=$libs setsid unshare --mount --propagation private \
      sh -c 'mount --bind "$1" /etc/passwd && exec "$2" -D -e -f "$3"' sh "$state/passwd" "$sshd" "$state/sshd_config" \
      >"$state/sshd.log" 2>&1 </dev/null &
    for _ in $(seq 50); do
      python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
      sleep 0.1
    done
    python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null ||
      die "sshd did not start: $(tail -n 5 "$state/sshd.log")"
    echo "$port"
    ;;
  stop)
    if [ -f "$state/sshd.pid" ]; then
      pid=$(cat "$state/sshd.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$state/sshd.pid"
    fi
    if [ -f "$state/made-run-sshd" ]; then rmdir /run/sshd 2>/dev/null || true; rm -f "$state/made-run-sshd"; fi
    ;;
  *) die "unknown command $cmd" ;;
esac
