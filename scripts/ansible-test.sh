#!/usr/bin/env bash
# Run ansible-test for this collection the way `make sanity|units|integration` needs it:
#
#   scripts/ansible-test.sh sanity      [extra ansible-test args]
#   scripts/ansible-test.sh units       [extra ansible-test args]
#   scripts/ansible-test.sh integration [extra ansible-test args]
#
# Expects `make venv` and `make collection` to have run (the Makefile does that).
# Why a wrapper rather than plain ansible-test:
#  * ansible-test only works from inside .../ansible_collections/<namespace>/<name>/, so we run it
#    in the synced copy build/ansible_collections/moby/engine.
#  * ansible-test bootstraps pip in every venv it creates by downloading
#    https://ci-files.testing.ansible.com/ansible-test/get-pip-<ver>.py, which this network cannot
#    reach. It first looks in ~/.ansible/test/cache/get_pip_<ver with _>.py, so we put an offline
#    stand-in there (see install_get_pip_standin).
#  * `sanity --venv` without --python runs the version-specific tests (compile, import) on every
#    python3.X that `find_executable` sees on PATH, everything else once on the controller python.
#    pyenv's shims cannot be used for that (they fail for versions that are not active), so we link
#    the real interpreters into build/pythons/ and put that directory first on PATH.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
VENV="$ROOT/.venv"
COLL="$BUILD/ansible_collections/moby/engine"
CONTROLLER_PY="$VENV/bin/python"

log() { printf '[ansible-test.sh] %s\n' "$*" >&2; }
die() { printf '[ansible-test.sh] ERROR: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 sanity|units|integration [ansible-test args...]"
cmd=$1; shift
[ -x "$VENV/bin/ansible-test" ] || die "$VENV/bin/ansible-test missing: run 'make venv'"
[ -d "$COLL" ] || die "$COLL missing: run 'make collection'"

# The venv's bin first: ansible-test, ansible-playbook etc. and its python must be the ones found.
export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$BUILD"
# build/ lies inside this git checkout, where it is git-ignored. Left to itself ansible-test walks up
# from the copy, finds the checkout's .git and lists the *tracked* files under build/: none, so every test is
# "skipped". Pinning the content root makes it list the copy's files as an unversioned tree.
export ANSIBLE_TEST_CONTENT_ROOT="$COLL"
# Output is read in logs and by CI: no colour escapes.
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1

install_get_pip_standin() {
  # Ask ansible-test itself which pip versions it bootstraps (one per supported Python; in 2.19
  # every version uses pip 24.2, i.e. cache file get_pip_24_2.py). The cache path format comes from
  # ansible_test/_util/target/setup/requirements.py: ~/.ansible/test/cache/get_pip_<ver with . -> _>.py
  local versions v cache
  versions=$("$CONTROLLER_PY" - <<'EOF'
import types
from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS
from ansible_test._internal.python_requirements import get_venv_packages
print(' '.join(sorted({get_venv_packages(types.SimpleNamespace(version=v))['pip'] for v in SUPPORTED_PYTHON_VERSIONS})))
EOF
)
  for v in $versions; do
    cache="$HOME/.ansible/test/cache/get_pip_${v//./_}.py"
    [ -f "$cache" ] && continue
    mkdir -p "$(dirname "$cache")"
    log "installing offline pip bootstrap stand-in $cache"
    # ansible-test runs it as: python get_pip.py --disable-pip-version-check pip==<ver> --no-setuptools --no-wheel
    cat >"$cache" <<'EOF'
# Offline stand-in for https://ci-files.testing.ansible.com/ansible-test/get-pip-<ver>.py,
# written by moby.engine's scripts/ansible-test.sh because that host is unreachable here.
# ensurepip installs the pip wheel bundled with this Python (no network); then we try to move to
# the exact pip version ansible-test asked for, through the normal package index, and carry on
# with the bundled pip if that fails.
import ensurepip
import os
import subprocess
import sys

# ensurepip.bootstrap() sets PIP_CONFIG_FILE=/dev/null in os.environ (to ignore pip.conf while it
# installs its bundled wheel); the follow-up pip must see the machine's pip.conf (index, CA bundle).
env = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
if any(not a.startswith('-') for a in args):
    rc = subprocess.call([sys.executable, '-m', 'pip', 'install', '-q'] + args, env=env)
    if rc:
        sys.stderr.write('get_pip stand-in: could not install %s, keeping the bundled pip\n' % ' '.join(args))
EOF
  done
}

# Print one `pythonX.Y` symlink per usable interpreter (3.8 .. 3.13) into build/pythons, and the
# directory name. The controller python (from .venv) is always included by ansible-test itself.
python_matrix_dir() {
  local dir="$BUILD/pythons" v cand real
  rm -rf "$dir"; mkdir -p "$dir"
  for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
    real=
    # pyenv installs (any root), then whatever is on PATH; pyenv shims are skipped: they only
    # work for the active version.
    for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v" $(type -ap "python$v" || true); do
      case "$cand" in */shims/*) continue ;; esac
      [ -x "$cand" ] || continue
      # Must really be that version and able to make a venv (Debian needs python3-venv for that).
      if "$cand" -c "import sys, ensurepip, venv; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))" 2>/dev/null; then
        real=$cand; break
      fi
    done
    [ -n "$real" ] && ln -s "$real" "$dir/python$v"
  done
  echo "$dir"
}

CONTROLLER_VER=$("$CONTROLLER_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
install_get_pip_standin
cd "$COLL"

case "$cmd" in
  sanity)
    PYDIR=$(python_matrix_dir)
    export PATH="$PYDIR:$PATH"
    matrix=("$PYDIR"/python*)
    log "sanity python matrix: ${matrix[*]##*/} (controller: python$CONTROLLER_VER)"
    # No --python: ansible-test then runs the version-specific tests on every python it finds.
    exec ansible-test sanity --venv --color no "$@"
    ;;
  units)
    # ansible-test installs tests/unit/requirements.txt (requests, requests-unixsocket) into the venv.
    exec ansible-test units --venv --python "${UNITS_PYTHON:-$CONTROLLER_VER}" --color no "$@"
    ;;
  integration)
    # INTEGRATION_CONFIG / INTEGRATION_LOG select another engine's pass (make test-podman sets them).
    config=${INTEGRATION_CONFIG:-$BUILD/integration_config.yml}
    logfile=${INTEGRATION_LOG:-$BUILD/integration.log}
    [ -f "$config" ] || die "$config missing: run 'make engine' (or 'make test-podman' for the Podman pass)"
    # ansible-test passes this file as extra vars (-e @...) to every target.
    install -m 600 "$config" "$COLL/tests/integration/integration_config.yml"
    # --local --python-interpreter: no ansible-test-made venv; run with the .venv python, which
    # already has requests + requests-unixsocket. ansible-test writes that same path as
    # ansible_python_interpreter into the inventory it generates (testhost, connection local), so
    # the modules run with it too and interpreter discovery never picks a pyenv shim.
    set +e
    ansible-test integration --local --python-interpreter "$CONTROLLER_PY" --color no -vvv "$@" 2>&1 \
      | tee "$logfile"
    rc=${PIPESTATUS[0]}
    set -e
    # Checked even (especially) when a test failed: failures dump module args and results.
    "$ROOT/scripts/check-no-secrets.sh" "$logfile" || rc=1
    exit "$rc"
    ;;
  *) die "unknown command '$cmd' (sanity|units|integration)" ;;
esac
