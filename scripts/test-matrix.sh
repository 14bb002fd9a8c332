#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The integration suite against the extra engines of scripts/engines.sh (make test-matrix):
#
#   scripts/test-matrix.sh [ENGINE...]     all engines of tests/integration/engine-matrix.txt by default
#
# For each engine: the targets engine-matrix.txt lists for it (SKIPPED lines, with their reason, for
# the rest: never counted as passed), run with scripts/ansible-test.sh integration --continue-on-error
# against build/integration_config.<ENGINE>.yml, log build/integration.<ENGINE>.log. Then a table:
# per engine and target, passed or FAILED with the first failure's message, and each pass's time.
# The engines are always brought down at the end, also on failure or interruption.
#
# ansible-test reads the integration config from the collection copy at every target, so a second
# run in build/ansible_collections at the same time (make integration in another terminal) would
# swap engines under either run. The matrix therefore runs in a private copy,
# build/matrix/root/build/ansible_collections/moby/engine (scripts/ and .venv/ linked), and gives
# every engine its own moby_build_dir, build/matrix/<ENGINE> (busybox-rootfs, docker-config and
# registry.log linked to the real ones).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
MATRIX="$ROOT/tests/integration/engine-matrix.txt"
PRIVATE="$BUILD/matrix/root"

log() { printf 'test-matrix: %s\n' "$*"; }
die() { printf 'test-matrix: ERROR: %s\n' "$*" >&2; exit 1; }

mapfile -t all_engines < <(awk -F'\t' '!/^#/ && NF && !seen[$1]++ {print $1}' "$MATRIX")
engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=("${all_engines[@]}")

all_targets() {  # every integration target that is not hidden (setup_*)
  local t
  for t in "$ROOT"/tests/integration/targets/*/; do
    t=${t%/}; t=${t##*/}
    grep -qx hidden "$ROOT/tests/integration/targets/$t/aliases" 2>/dev/null || echo "$t"
  done
}
run_list() {  # run_list ENGINE: the targets to run, one a line
  local spec t
  spec=$(awk -F'\t' -v e="$1" '$1 == e && $2 == "run" {print $3}' "$MATRIX")
  [ -n "$spec" ] || die "no run line for $1 in $MATRIX"
  if [ "$spec" = all ]; then
    for t in $(all_targets); do
      awk -F'\t' -v e="$1" -v t="$t" '$1 == e && $2 == "skip" && $3 == t {f = 1} END {exit !f}' "$MATRIX" || echo "$t"
    done
  else
    for t in $spec; do
      [ -d "$ROOT/tests/integration/targets/$t" ] || die "$MATRIX: no target $t (engine $1)"
      echo "$t"
    done
  fi
}
skip_reason() {  # skip_reason ENGINE TARGET
  awk -F'\t' -v e="$1" -v t="$2" '$1 == e && $2 == "skip" && $3 == t {print $4; f = 1; exit}
    END {if (!f) exit 1}' "$MATRIX" ||
    awk -F'\t' -v e="$1" '$1 == e && $2 == "skip" && $3 == "*" {print $4; exit}' "$MATRIX"
}

# shellcheck disable=SC2317  # called by the trap
cleanup() {
  local rc=$?
  log "bringing the engines down"
  "$ROOT/scripts/engines.sh" down "${engines[@]}" || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/scripts/engines.sh" up "${engines[@]}"

# The private copy of the collection (as `make collection` makes the shared one).
mkdir -p "$PRIVATE/build/ansible_collections/moby/engine"
ln -sfn "$ROOT/scripts" "$PRIVATE/scripts"
ln -sfn "$ROOT/.venv" "$PRIVATE/.venv"
# ansible-test.sh scans every log for the registry password, which it reads from build/registry.
mkdir -p "$PRIVATE/build/registry"
ln -sfn "$BUILD/registry/password" "$PRIVATE/build/registry/password"
rsync -a --delete \
  --exclude=/.venv --exclude=/build --exclude=/.git --exclude=/tests/output \
  --exclude=/tests/integration/integration_config.yml \
  --exclude=__pycache__ --exclude=.pytest_cache \
  "$ROOT/" "$PRIVATE/build/ansible_collections/moby/engine/"

results="$BUILD/matrix/results.tsv"
: >"$results"
rc=0
for engine in "${engines[@]}"; do
  mapfile -t run < <(run_list "$engine")
  log "$engine: RUN ${run[*]}"
  for t in $(all_targets); do
    case " ${run[*]} " in *" $t "*) continue ;; esac
    reason=$(skip_reason "$engine" "$t") || true
    log "$engine: SKIPPED $t: ${reason:-not listed in tests/integration/engine-matrix.txt}"
    printf '%s\t%s\tSKIPPED\t0\t%s\n' "$engine" "$t" "${reason:-not listed}" >>"$results"
  done
  # The engine's own moby_build_dir: files the targets write there do not meet other runs' files.
  own="$BUILD/matrix/$engine"
  mkdir -p "$own"
  for f in busybox-rootfs docker-config registry.log; do ln -sfn "$BUILD/$f" "$own/$f"; done
  config="$BUILD/matrix/integration_config.$engine.yml"
  (umask 077; sed "s|^moby_build_dir:.*|moby_build_dir: \"$own\"|" "$BUILD/integration_config.$engine.yml" >"$config")
  logfile="$BUILD/integration.$engine.log"
  start=$(date +%s)
  INTEGRATION_CONFIG=$config INTEGRATION_LOG=$logfile \
    "$PRIVATE/scripts/ansible-test.sh" integration --continue-on-error "${run[@]}" >/dev/null 2>&1 || rc=1
  secs=$(($(date +%s) - start))
  log "$engine: pass took ${secs}s (log: build/integration.$engine.log)"
  # Per target: passed, or FAILED with the first failure that was not ignored (task and message).
  python3 - "$logfile" "$engine" "$secs" "${run[@]}" >>"$results" <<'PY'
import json, re, sys

logfile, engine, secs, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
lines = open(logfile, errors="replace").read().splitlines()
failed = set()
for i, line in enumerate(lines):
    if "integration test(s) listed below" in line:
        failed.update(l.strip() for l in lines[i + 1:] if l.strip())
segments, current = {}, None
for line in lines:
    m = re.match(r"Running (\S+) integration test (role|script)", line)
    if m:
        current = m.group(1)
        segments[current] = []
    elif current:
        segments[current].append(line)

def first_failure(seg):
    """The first task of the segment that failed and was not ignored: its name, message, assertion."""
    sections, task = [], None
    for line in seg:
        if line.startswith("TASK ["):
            task = [line.split("[", 1)[1].rsplit("]", 1)[0]]
            sections.append(task)
        elif task is not None:
            task.append(line)
    for name, *body in sections:
        if any(l.startswith("...ignoring") for l in body):
            continue
        errors = [l for l in body if l.startswith("[ERROR]: ")]
        fails = [i for i, l in enumerate(body) if l.startswith(("fatal: [", "failed: [")) and "=>" in l]
        if not errors and not fails:
            continue
        msg, assertion = "", ""
        if fails:
            i = fails[0]
            block = [body[i].split("=>", 1)[1]]
            for l in body[i + 1:]:
                block.append(l)
                if l == "}":
                    break
            try:
                result = json.loads("\n".join(block))
                msg, assertion = str(result.get("msg", "")), str(result.get("assertion", "") or "")
            except ValueError:
                pass
        if errors and (not msg or msg == "All items completed"):
            msg = errors[0][len("[ERROR]: "):]
            for prefix in ("Task failed: ", "Module failed: ", "Action failed: "):
                msg = msg[len(prefix):] if msg.startswith(prefix) else msg
        text = "%s: %s" % (name.split(" : ", 1)[-1], " ".join(msg.split()))
        if assertion:
            text += " [assertion: %s]" % " ".join(assertion.split())
        return text[:400]
    return "no failed task found in the log"

for t in targets:
    if t not in segments:
        status, msg = "NOT RUN", "the log has no run of this target"
    elif t in failed:
        status, msg = "FAILED", first_failure(segments[t])
    else:
        status, msg = "passed", ""
    print("\t".join([engine, t, status, secs, msg]))
PY
done

echo
log "results (SKIPPED is never a pass)"
awk -F'\t' '{ printf "  %-15s %-18s %-8s %s\n", $1, $2, $3, $5 }' "$results"
awk -F'\t' '$3 != "SKIPPED" { n[$1]++; if ($3 == "passed") p[$1]++; s[$1] = $4 }
  END { for (e in n) printf "test-matrix: %s: %d of %d run targets passed in %ss\n", e, p[e], n[e], s[e] }' "$results"
exit "$rc"
