# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a task loads at start (issue #16).

AnsiballZ imports the collection's module_utils from a zip, where no bytecode is cached: every file a module
imports is compiled again in every task. So a task loads only what it uses; what few tasks need (the progress
stream parser, docker contexts, filters, credentials, ssh) is imported where it is used. Each check runs in a
fresh interpreter, since this one has imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

PACKAGE = "ansible_collections.moby.engine.plugins."
UTILS = PACKAGE + "module_utils."


def loaded_after(code: str) -> set:
    """The collection's module_utils (without the package prefix) that ``code`` leaves imported."""
    script = "import json, sys\n{0}\nprint(json.dumps(sorted(name for name in sys.modules if name.startswith({1!r}))))"
    completed = subprocess.run([sys.executable, "-c", script.format(code, UTILS)], stdout=subprocess.PIPE,
                               env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), check=True)
    return {name[len(UTILS):] for name in json.loads(completed.stdout)}


def test_image_info_imports_only_what_an_inspect_uses():
    assert loaded_after("import {0}modules.image_info".format(PACKAGE)) == {
        "_client", "_common", "_engines", "_errors", "_references", "_transport"}


def test_a_task_that_names_its_engine_does_not_load_docker_contexts():
    code = ("from {0}_common import ENGINE_ARGUMENT_SPEC, engine_config\n"
            "params = {{key: spec.get('default') for key, spec in ENGINE_ARGUMENT_SPEC.items()}}\n"
            "engine_config(dict(params, docker_host='unix:///run/other.sock'))").format(UTILS)
    assert "_contexts" not in loaded_after(code)
    assert "_contexts" in loaded_after(code.replace("docker_host='unix:///run/other.sock'", "docker_host=None"))
