#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write each module's EXAMPLES as a playbook, so that ansible-lint can check them (`make lint`).

    scripts/examples-playbooks.py OUTPUT_DIR

One file per module, OUTPUT_DIR/<module>.yml, holding one play whose tasks are the EXAMPLES.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


class IndentedDumper(yaml.SafeDumper):
    """Indents list items under their key, as yamllint (and so ansible-lint) expects."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def module_examples(path: Path) -> list:
    """The module's EXAMPLES as a list of tasks, read without importing the module."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "EXAMPLES" for target in node.targets):
            return yaml.safe_load(node.value.value) or []
    raise SystemExit("{0}: no EXAMPLES".format(path))


def main(argv: list) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.yml"):
        stale.unlink()
    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        play = {"name": "Examples of moby.engine.{0}".format(path.stem), "hosts": "all",
                "gather_facts": False, "tasks": module_examples(path)}
        (out / (path.stem + ".yml")).write_text("---\n" + yaml.dump([play], Dumper=IndentedDumper, sort_keys=False, width=120), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
