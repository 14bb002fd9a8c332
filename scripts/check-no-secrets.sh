#!/usr/bin/env bash
# Fail when a log leaks the test registry's credentials.
#
#   scripts/check-no-secrets.sh LOG [LOG...]
#
# The password comes from build/registry/password (written by scripts/engine-up.sh), or from
# $MOBY_REGISTRY_PASSWORD. We look for
#   * the password itself,
#   * base64 and base64url (padded or not) of "moby:<password>" (HTTP Basic auth),
#   * base64 and base64url of the AuthConfig JSON the Engine API takes in X-Registry-Auth, in the
#     usual serialisations,
#   * and, because a JSON encoder can order or space keys any way it likes, every base64/base64url
#     looking token in the log is decoded and searched for the password too.
# Matches are reported by line number and kind; the secret itself is never printed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 LOG [LOG...]" >&2; exit 2; }

if [ -z "${MOBY_REGISTRY_PASSWORD:-}" ]; then
  PWFILE="$ROOT/build/registry/password"
  [ -s "$PWFILE" ] || { echo "[check-no-secrets] ERROR: $PWFILE missing (run make engine)" >&2; exit 2; }
  MOBY_REGISTRY_PASSWORD=$(cat "$PWFILE")
fi
export MOBY_REGISTRY_PASSWORD MOBY_REGISTRY_USER=${MOBY_REGISTRY_USER:-moby}
export MOBY_REGISTRY=${MOBY_REGISTRY:-127.0.0.1:${REGISTRY_PORT:-5000}}

PY=$(command -v python3 || true)
[ -x "$ROOT/.venv/bin/python" ] && PY="$ROOT/.venv/bin/python"
[ -n "$PY" ] || { echo "[check-no-secrets] ERROR: no python3" >&2; exit 2; }

exec "$PY" - "$@" <<'EOF'
import base64, binascii, json, os, re, sys

pw = os.environ['MOBY_REGISTRY_PASSWORD']
user = os.environ['MOBY_REGISTRY_USER']
registry = os.environ['MOBY_REGISTRY']
if len(pw) < 8:
    sys.exit('[check-no-secrets] ERROR: refusing to check for a password shorter than 8 characters')


def encodings(raw):
    """base64 and base64url of raw, with and without padding."""
    out = set()
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        s = enc(raw.encode()).decode()
        out.update({s, s.rstrip('=')})
    return out


needles = {pw: 'password'}
for s in encodings('%s:%s' % (user, pw)):
    needles[s] = 'base64 of user:password'
for server in (registry, 'http://' + registry, 'https://' + registry, ''):
    base = {'username': user, 'password': pw}
    if server:
        base['serveraddress'] = server
    for order in (list(base), sorted(base)):
        obj = {k: base[k] for k in order}
        for sep in ((', ', ': '), (',', ':')):
            for s in encodings(json.dumps(obj, separators=sep)):
                needles[s] = 'base64 of AuthConfig JSON'

token_re = re.compile(r'[A-Za-z0-9+/_-]{16,}={0,2}')


def decoded_hits(line):
    for tok in token_re.findall(line):
        t = tok.rstrip('=')
        for alt in (t, t[1:], t[2:], t[3:]):  # tolerate a token that starts mid-quantum
            padded = alt + '=' * (-len(alt) % 4)
            for dec in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    text = dec(padded.replace('-', '+').replace('_', '/') if dec is base64.b64decode else padded)
                except (binascii.Error, ValueError):
                    continue
                if pw.encode() in text:
                    return True
    return False


bad = 0
for path in sys.argv[1:]:
    with open(path, encoding='utf-8', errors='replace') as f:
        for n, line in enumerate(f, 1):
            kinds = {kind for s, kind in needles.items() if s in line}
            if not kinds and decoded_hits(line):
                kinds = {'base64 text that decodes to something holding the password'}
            for kind in sorted(kinds):
                print('[check-no-secrets] LEAK %s:%d: %s' % (path, n, kind))
                bad += 1
if bad:
    sys.exit('[check-no-secrets] FAILED: %d leak(s) of the registry credentials' % bad)
print('[check-no-secrets] OK: no registry credentials in %s' % ', '.join(sys.argv[1:]))
EOF
