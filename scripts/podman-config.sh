# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# Sourced by scripts/podman-up.sh (Podman 4.3) and scripts/podman5.sh (Podman 5.4): how both write their
# private Podman configuration.

# write_file FILE < CONTENT: (re)write FILE only when its content changes, and note that it did (CONFIG_CHANGED),
# so that a running service is restarted to read it.
# shellcheck disable=SC2034  # read by the scripts that source this file
CONFIG_CHANGED=
write_file() {
  local content
  content=$(cat)
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$content" ]; then
    printf '%s\n' "$content" >"$1"
    # shellcheck disable=SC2034  # read by the scripts that source this file
    CONFIG_CHANGED=1
  fi
}

# containers.conf's default_ulimits line. Podman raises every container's RLIMIT_NOFILE/NPROC to 1048576, which
# fails ("error setting rlimits ... operation not permitted") where the service may not go that high (as in a
# container or this machine's sandbox). Lowering a limit is always allowed: 4096, or less where the limit is lower.
container_ulimits() {
  local n u
  n=$(_container_limit n) u=$(_container_limit u)
  printf 'default_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' "$n" "$n" "$u" "$u"
}
_container_limit() { local v; v=$(ulimit -H"$1"); if [ "$v" = unlimited ] || [ "$v" -gt 4096 ]; then v=4096; fi; echo "$v"; }
