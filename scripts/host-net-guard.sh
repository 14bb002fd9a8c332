#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Guard the host's network against the test run (make test snapshots before and checks after):
#
#   scripts/host-net-guard.sh snapshot FILE   record the interfaces (ip -o link), their addresses
#                                             (ip -o addr) and net.ipv4.ip_forward into FILE
#   scripts/host-net-guard.sh check FILE      compare the host with FILE; exit 1, saying what changed,
#                                             when an interface vanished or appeared or an address or
#                                             ip_forward changed
#
# The extra dockerds of the tests (setup_dockerd's dockerd-ctl.sh, the molecule fleet, the engine
# matrix) each make a bridge `mbe<N>` with the ifalias "moby.engine:STATE_DIR" and delete it when the
# engine is destroyed. At check time such a bridge is
#   * ignored while its STATE_DIR still exists (an engine of another run is still up), and
#   * reported as leaked when its STATE_DIR is gone (destroy did not remove it).
# HOST_NET_GUARD_IGNORE: an extended regex of further interface names to ignore (e.g. '^veth').
set -euo pipefail

die() { printf '[host-net-guard] ERROR: %s\n' "$*" >&2; exit 2; }
say() { printf '[host-net-guard] %s\n' "$*" >&2; }

[ $# -eq 2 ] || die "usage: $0 snapshot|check FILE"
cmd=$1 file=$2
command -v ip >/dev/null || die "ip is not installed (apt-get install iproute2)"

# One line per fact, sorted: "link NAME", "addr NAME FAMILY ADDRESS/PREFIX", "sysctl KEY VALUE".
state() {
  ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print "link " $2 }'
  ip -o addr show | awk '{ print "addr " $2 " " $3 " " $4 }'
  printf 'sysctl net.ipv4.ip_forward %s\n' "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo '?')"
}
# "NAME ALIAS" for every link that has an ifalias.
aliases() {
  ip -o link show | awk -F': ' '{ name = $2; sub(/@.*/, "", name); i = index($0, "\\    alias ");
    if (i) print name " " substr($0, i + 11) }'
}
ignored() {  # ignored NAME: not a change worth failing on (prints why, when something is wrong)
  local name=$1 alias dir
  if [ -n "${HOST_NET_GUARD_IGNORE:-}" ] && [[ $name =~ $HOST_NET_GUARD_IGNORE ]]; then return 0; fi
  alias=$(aliases | awk -v n="$name" '$1 == n { sub(/^[^ ]+ /, ""); print; exit }')
  case "$alias" in
    moby.engine:/*)
      dir=${alias#moby.engine:}
      if [ -d "$dir" ]; then
        say "note: bridge $name belongs to an engine still set up in $dir (ignored)"
        return 0
      fi
      say "leaked bridge $name: its engine's state directory $dir is gone, but destroy did not delete the bridge"
      return 1 ;;
  esac
  return 1
}

case "$cmd" in
  snapshot)
    mkdir -p "$(dirname "$file")"
    state | sort -u >"$file"
    say "recorded $(grep -c '^link ' "$file") interfaces in $file: $(awk '/^link / {printf "%s ", $2}' "$file")"
    # The system engine's default bridge should be there when the system dockerd runs: say so when
    # an earlier run (a dockerd with --bridge none) has already deleted it.
    if [ -S /var/run/docker.sock ] && ! grep -qx 'link docker0' "$file"; then
      say "warning: docker0 is missing already (the system engine's bridge network has no interface); something deleted it before this run"
    fi
    ;;
  check)
    [ -f "$file" ] || die "no snapshot $file (run: $0 snapshot $file first)"
    now=$(state | sort -u)
    bad=0
    # Lines only in the snapshot: vanished; lines only now: appeared.
    while read -r kind name rest; do
      [ -n "$kind" ] || continue
      case "$kind" in
        link) say "interface $name VANISHED during the test run"; bad=1 ;;
        addr) grep -qx "link $name" <<<"$now" && { say "address $rest of $name VANISHED"; bad=1; } ;;
        sysctl) say "$name changed: was $rest, now $(grep "^sysctl $name " <<<"$now" | cut -d' ' -f3)"; bad=1 ;;
      esac
    done < <(comm -23 "$file" <(printf '%s\n' "$now"))
    while read -r kind name rest; do
      [ -n "$kind" ] || continue
      case "$kind" in
        link) ignored "$name" || { say "interface $name APPEARED during the test run"; bad=1; } ;;
        addr) if grep -qx "link $name" "$file"; then say "address $rest APPEARED on $name"; bad=1; fi ;;
      esac
    done < <(comm -13 "$file" <(printf '%s\n' "$now"))
    if [ "$bad" != 0 ]; then
      say "FAILED: the test run changed the host's network (snapshot: $file; now: ip -br link, ip -br addr)"
      exit 1
    fi
    say "ok: the host's interfaces and addresses are as they were before the run"
    ;;
  *) die "unknown command '$cmd' (snapshot|check)" ;;
esac
