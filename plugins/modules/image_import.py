#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_import
short_description: Create an image from a root filesystem tarball, once per source and options
version_added: 0.1.0
description:
  - Imports a root filesystem tarball as a single-layer image named O(repository):O(tag)
    (C(POST /images/create?fromSrc=)), like C(docker import).
  - O(source) is either a file on the managed host, streamed to the engine, or an C(http://) or C(https://)
    URL that the engine downloads itself.
  - B(How reruns are recognised.) The module computes a fingerprint, a SHA-256 over the source (the file's
    content, or the URL as written) and the options that shape the image (O(changes), O(comment),
    O(platform)), and stores it in the image's comment (C(Comment) in its inspect data) after O(comment), as
    C([moby.engine import sha256:...]). When O(repository):O(tag) already names an image carrying the same
    fingerprint, nothing is imported and the task reports no change. A different file content or option
    imports a new image and moves the tag to it.
  - For a URL, only the URL is fingerprinted, not what it serves; use O(force=true) when the content behind
    an unchanged URL changed.
  - Fingerprinting a file reads it once before it is uploaded.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
attributes:
  diff_mode:
    details: The id of the image O(repository):O(tag) names, and its recorded fingerprint, before and after.
options:
  source:
    description:
      - The root filesystem tarball (plain, or compressed with gzip, bzip2 or xz), as a path on the
        managed host or an C(http://) or C(https://) URL the engine can reach.
    type: str
    required: true
  repository:
    description: Repository of the new image, for example V(registry.example.com/team/base); it may carry the tag.
    type: str
    required: true
  tag:
    description: Tag of the new image, used when O(repository) carries none.
    type: str
    default: latest
  comment:
    description:
      - Commit message of the image (C(docker import --message)); the module appends its fingerprint to it.
      - The option is not called C(message) because Ansible reserves that name.
    type: str
  changes:
    description:
      - Dockerfile instructions applied to the image's configuration, for example V(ENV DEBUG=1)
        or V(CMD ["/bin/sh"]).
      - Accepted instructions are those the engine accepts, C(CMD), C(ENTRYPOINT), C(ENV), C(EXPOSE), C(HEALTHCHECK),
        C(LABEL), C(ONBUILD), C(STOPSIGNAL), C(USER), C(VOLUME) and C(WORKDIR), one per element; anything else, or a line
        break inside an element, fails before the import. Docker 20.10 does not accept C(STOPSIGNAL) yet.
    type: list
    elements: str
    default: []
  platform:
    description: Platform recorded in the image, as V(os[/arch[/variant]]). Defaults to the engine's.
    type: str
  force:
    description: Import even when O(repository):O(tag) already carries the same fingerprint.
    type: bool
    default: false
seealso:
  - module: moby.engine.image_load
  - module: moby.engine.image_commit
"""

EXAMPLES = r"""
- name: Import a root filesystem built by debootstrap
  moby.engine.image_import:
    source: /srv/rootfs/bookworm.tar.gz
    repository: registry.example.com/base/bookworm
    tag: "2024-06"
    comment: debootstrap bookworm, June 2024
    changes:
      - CMD ["/bin/bash"]
      - ENV LANG=C.UTF-8
      - WORKDIR /root

- name: Let the engine download the tarball itself
  moby.engine.image_import:
    source: https://artifacts.example.com/rootfs/appliance-1.4.tar.xz
    repository: appliance
    tag: "1.4"
"""

RETURN = r"""
reason:
  description: Why the task changed (or in check mode would change) something, or did not.
  returned: success
  type: str
  sample: the tag already names an image made from this source with these options
image:
  description: Inspect data of the image O(repository):O(tag) names after the task (before it, in check mode).
  returned: when the image exists
  type: dict
  sample:
    Id: sha256:6b0e9a1fc6d8b0b2ba4cc9b1c2f8f5b9e1e8a2f6aa4e4b5c2d7d0f3b2c1a9e8d
    RepoTags: [registry.example.com/base/bookworm:2024-06]
    Comment: "debootstrap bookworm, June 2024 [moby.engine import sha256:0b1f...]"
    Config:
      Cmd: [/bin/bash]
      Env: [LANG=C.UTF-8]
      WorkingDir: /root
fingerprint:
  description: The fingerprint of O(source) and the options, as stored in the image's comment.
  returned: always
  type: str
  sample: sha256:0b1f4c7bd6a1ad3e1f2a0b9e7f6f5e4d3c2b1a09f8e7d6c5b4a3928170615243
"""

import os
from urllib.parse import urlsplit

from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._files import file_digest
from ansible_collections.moby.engine.plugins.module_utils._references import check_platform
from ansible_collections.moby.engine.plugins.module_utils._snapshots import (
    SNAPSHOT_OPTIONS,
    fingerprint,
    snapshot_decision,
    snapshot_result,
    stamp_comment,
    target_reference,
    validate_changes,
)

OPTIONS = dict(SNAPSHOT_OPTIONS, source={"type": "str", "required": True}, platform={"type": "str"})
OPERATION = "import"


def source_identity(source: str) -> tuple:
    """(whether source is a URL, what the fingerprint records of it: the URL, or the file's content digest)."""
    if urlsplit(source).scheme in ("http", "https"):
        return True, source
    # Not a type=path option (it may be a URL), so a path is used as given, without ~ expansion.
    if not os.path.isfile(source):
        raise InvalidInput("source {0} is neither an http(s) URL nor a file on the managed host (give an absolute "
                           "path)".format(source))
    return False, file_digest(source)


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    target = target_reference(params["repository"], params["tag"])
    changes = validate_changes(params["changes"])
    check_platform(params["platform"])
    is_url, identity = source_identity(params["source"])
    digest = fingerprint(operation=OPERATION, source=identity, changes=changes, comment=params["comment"],
                         platform=params["platform"])
    before = client.inspect_image(target.familiar_tagged())

    decision = snapshot_decision(before, OPERATION, digest, params["force"])
    after = before
    if decision[0] and not check_mode:
        query = {"repo": target.familiar_repository, "tag": target.tag, "changes": changes or None,
                 "message": stamp_comment(params["comment"], OPERATION, digest), "platform": params["platform"]}
        if is_url:
            client.import_image(params["source"], query)
        else:
            with open(params["source"], "rb") as body:
                client.import_image(body, query)
        after = client.inspect_image(target.familiar_tagged())
    return snapshot_result(target.familiar_tagged(), before, after, decision, check_mode, OPERATION, digest)


def main() -> None:
    run_module(OPTIONS, run, "Importing {source} as {repository} failed: {error}")


if __name__ == "__main__":
    main()
