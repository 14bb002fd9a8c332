#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Fetch a newer Docker Engine for the engine matrix (make test-matrix) without touching the
# machine's apt configuration: Debian unstable's docker.io and containerd packages are downloaded
# with a private apt setup under build/engines/apt (own sources.list, lists and cache; the system's
# sources.list, sources.list.d and package lists are never read or written) and unpacked with
# dpkg-deb -x into build/engines/docker-<series>/. Nothing is installed.
#
#   scripts/engines-get.sh        prints the directory the engine was unpacked into
#
# Idempotent: when build/engines/docker-<series>/.complete names the same package versions, nothing
# is downloaded. Environment: ENGINES_SUITE (unstable), ENGINES_MIRROR (default: the Debian archive
# URI that this machine's own apt sources use), DOCKER_SERIES (28.5), CONTAINERD_SERIES (2.1).
# The unpacked runc is not used: it needs a newer libc than Debian 12 has; engines-up.sh runs the
# engines with the system's /usr/sbin/runc.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
SUITE=${ENGINES_SUITE:-unstable}
DOCKER_SERIES=${DOCKER_SERIES:-28.5}
CONTAINERD_SERIES=${CONTAINERD_SERIES:-2.1}
APT_DIR="$BUILD/engines/apt"
DEST="$BUILD/engines/docker-$DOCKER_SERIES"

log() { printf '[engines-get] %s\n' "$*" >&2; }
die() { printf '[engines-get] ERROR: %s\n' "$*" >&2; exit 1; }

{ command -v apt-get && command -v dpkg-deb; } >/dev/null || die "apt-get and dpkg-deb are needed (Debian or a derivative)"

# The same mirror as the system's apt (deb822 .sources or one-line .list), never its configuration.
mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ') || true
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${ENGINES_MIRROR:-$(mirror)}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || die "$KEYRING missing (apt-get install debian-archive-keyring)"

mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/debs"
printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" >"$APT_DIR/sources.list"
# Dir::State::status points at an empty file: the machine's installed packages play no part in
# choosing candidates, and apt never reads or locks the real dpkg database.
: >"$APT_DIR/status"
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
  -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$APT_DIR/lists"
  -o "Dir::State::status=$APT_DIR/status"
  -o "Dir::Cache=$APT_DIR/cache"
  -o Dir::Etc::Preferences=/dev/null
  -o Dir::Etc::PreferencesParts=/dev/null
  -o APT::Architecture="$(dpkg --print-architecture)"
  -o Acquire::Languages=none
  -o APT::Sandbox::User=root
)

# Refresh the private lists at most once a day.
if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null)" ]; then
  log "apt-get update (private lists, $SUITE)"
  apt-get "${APT_OPTS[@]}" update -qq >&2 || die "apt-get update of the private $SUITE lists failed"
fi

candidate() {  # candidate PACKAGE: its version in $SUITE
  apt-cache "${APT_OPTS[@]}" policy "$1" | awk '/Candidate:/ {print $2}'
}
DOCKER_VER=$(candidate docker.io)
CONTAINERD_VER=$(candidate containerd)
case "$DOCKER_VER" in "$DOCKER_SERIES".*) ;; *) die "$SUITE has docker.io '$DOCKER_VER', not $DOCKER_SERIES.x (set DOCKER_SERIES)" ;; esac
case "$CONTAINERD_VER" in "$CONTAINERD_SERIES".*) ;; *) die "$SUITE has containerd '$CONTAINERD_VER', not $CONTAINERD_SERIES.x (set CONTAINERD_SERIES)" ;; esac
WANT="docker.io=$DOCKER_VER containerd=$CONTAINERD_VER"

if [ -f "$DEST/.complete" ] && [ "$(cat "$DEST/.complete")" = "$WANT" ]; then
  log "$WANT already unpacked in ${DEST#"$ROOT"/}"
  echo "$DEST"
  exit 0
fi

log "downloading $WANT"
(cd "$APT_DIR/debs" && apt-get "${APT_OPTS[@]}" download -qq "docker.io=$DOCKER_VER" "containerd=$CONTAINERD_VER" >&2) \
  || die "apt-get download failed"
rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
for deb in "$APT_DIR/debs/docker.io_${DOCKER_VER//:/%3a}_"*.deb "$APT_DIR/debs/containerd_${CONTAINERD_VER//:/%3a}_"*.deb; do
  [ -f "$deb" ] || die "downloaded package missing: $deb"
  log "unpacking ${deb##*/}"
  dpkg-deb -x "$deb" "$DEST.tmp"
done
for bin in usr/sbin/dockerd usr/bin/containerd; do
  [ -x "$DEST.tmp/$bin" ] || die "$bin is not in the unpacked packages"
done
echo "$WANT" >"$DEST.tmp/.complete"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
log "unpacked into ${DEST#"$ROOT"/}: $("$DEST/usr/sbin/dockerd" --version)"
echo "$DEST"
