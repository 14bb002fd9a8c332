#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Guard the system engine's objects against the test run (make test snapshots before and checks after):
#
#   scripts/engine-guard.sh snapshot FILE   record the engine's containers, images (untagged ones too, with
#                                           every tag), volumes and networks into FILE
#   scripts/engine-guard.sh check FILE      compare the engine with FILE; exit 1, listing them, when any
#                                           of those appeared or vanished
#
# A target's cleanup that matches its images by "repository:tag" misses the images a later pull, tag or
# import left untagged, and a failed build can leave its step's container: each run then adds a few, and
# nothing else would notice. DOCKER_HOST chooses the engine (the system one by default).
set -euo pipefail

die() { printf '[engine-guard] ERROR: %s\n' "$*" >&2; exit 2; }
say() { printf '[engine-guard] %s\n' "$*" >&2; }

[ $# -eq 2 ] || die "usage: $0 snapshot|check FILE"
cmd=$1 file=$2
command -v docker >/dev/null || die "the docker CLI is not installed"

# One line per object, sorted: "container ID NAME IMAGE", "image ID", "tag ID REPOSITORY:TAG", "volume NAME",
# "network NAME".
state() {
  docker container ls -a --no-trunc --format 'container {{.ID}} {{.Names}} {{.Image}}'
  docker image ls -a -q --no-trunc | sed 's/^/image /'
  docker image ls --no-trunc --format 'tag {{.ID}} {{.Repository}}:{{.Tag}}' | grep -v ':<none>$' || true
  docker volume ls -q | sed 's/^/volume /'
  docker network ls --format 'network {{.Name}}'
}

case "$cmd" in
  snapshot)
    mkdir -p "$(dirname "$file")"
    current=$(state) || die "cannot list the engine's objects (is it running? DOCKER_HOST=${DOCKER_HOST:-unset})"
    sort -u <<<"$current" >"$file"
    say "recorded $(grep -c '^container ' "$file" || true) containers, $(grep -c '^image ' "$file" || true) images," \
      "$(grep -c '^volume ' "$file" || true) volumes and $(grep -c '^network ' "$file" || true) networks in $file"
    ;;
  check)
    [ -f "$file" ] || die "no snapshot $file (run: $0 snapshot $file first)"
    current=$(state) || die "cannot list the engine's objects (is it running? DOCKER_HOST=${DOCKER_HOST:-unset})"
    now=$(sort -u <<<"$current")
    vanished=$(comm -23 "$file" <(printf '%s\n' "$now"))
    appeared=$(comm -13 "$file" <(printf '%s\n' "$now"))
    [ -z "$vanished" ] || say "VANISHED during the test run:"$'\n'"$vanished"
    [ -z "$appeared" ] || say "LEFT BEHIND by the test run:"$'\n'"$appeared"
    if [ -n "$vanished$appeared" ]; then
      say "FAILED: the test run changed the engine's containers, images, volumes or networks (snapshot: $file)"
      exit 1
    fi
    say "ok: the engine's containers, images, volumes and networks are as they were before the run"
    ;;
  *) die "unknown command '$cmd' (snapshot|check)" ;;
esac
