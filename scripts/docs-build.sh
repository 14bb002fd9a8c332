#!/usr/bin/env bash
# Build the collection's HTML docs site with antsibull-docs (`make docs`), offline:
#
#   scripts/docs-build.sh      -> build/docs/build/html/index.html
#
# Expects `make tools` and `make collection` (the collection at build/ansible_collections/moby/engine).
# antsibull-docs sphinx-init writes a Sphinx project whose build.sh runs sphinx-build with -W
# (every warning is an error). That project links to docs.python.org, jinja and docs.ansible.com
# through intersphinx, which this network cannot reach; it falls back to ../<name>.inv files. We
# write those fallbacks with the few labels the generated pages reference, pointing at the real
# pages, so that the links are right and any other broken reference still fails the build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
DOCS="$BUILD/docs"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$BUILD"

rm -rf "$DOCS"
# antsibull-docs refuses a destination that others can write to.
mkdir -p "$BUILD"
mkdir -m 755 "$DOCS"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$DOCS" moby.engine >/dev/null

python - "$DOCS" <<'PYEOF'
import sys
import zlib
from pathlib import Path

docs = Path(sys.argv[1])
# label -> (page, title) in the Ansible docs; only what antsibull-docs' generated pages reference.
ANSIBLE_LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
    "list_of_collections": ("collections/index.html", "Collection Index"),
}
inventories = {"ansible_devel": ANSIBLE_LABELS, "python2": {}, "python3": {}, "jinja2": {}}
for name, labels in inventories.items():
    lines = "".join("{0} std:label -1 {1}#$ {2}\n".format(label, page, title)
                    for label, (page, title) in labels.items())
    header = "# Sphinx inventory version 2\n# Project: {0}\n# Version: offline\n" \
             "# The remainder of this file is compressed using zlib.\n".format(name)
    (docs / (name + ".inv")).write_bytes(header.encode() + zlib.compress(lines.encode()))
PYEOF

"$DOCS/build.sh"
echo "[docs-build] $DOCS/build/html/index.html"
