#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_commit
short_description: Snapshot a container as an image, once per container and options
version_added: 0.1.0
description:
  - Creates an image from a container's current filesystem and configuration (C(POST /commit)),
    like C(docker commit), and names it O(repository):O(tag).
  - B(When a commit happens.) The module computes a fingerprint, a SHA-256 over the container's full id and
    the options that shape the image (O(comment), O(author), O(changes), O(config)), and stores it in the
    image's comment (C(Comment) in its inspect data) after O(comment), as C([moby.engine commit sha256:...]).
    When O(repository):O(tag) already names an image carrying the same fingerprint, nothing is committed and
    the task reports no change, even if files in the container changed since. A different container (for
    example one re-created under the same name) or different options commit a new image and move the tag.
    Use O(force=true) to take a new snapshot of the same container.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
attributes:
  diff_mode:
    details: The id of the image O(repository):O(tag) names, and its recorded fingerprint, before and after.
options:
  container:
    description: The container to commit, by name or id.
    type: str
    required: true
  repository:
    description: Repository of the new image, for example V(registry.example.com/team/app); it may carry the tag.
    type: str
    required: true
  tag:
    description: Tag of the new image, used when O(repository) carries none.
    type: str
    default: latest
  comment:
    description: Commit message; the module appends its fingerprint to it.
    type: str
  author:
    description: Author of the image, for example V(Jane Doe <jane@example.com>).
    type: str
  pause:
    description: Pause the container while committing, so that the snapshot is consistent.
    type: bool
    default: true
  changes:
    description:
      - Dockerfile instructions applied to the image's configuration, for example V(ENV DEBUG=1).
      - Accepted instructions are those the engine accepts, C(CMD), C(ENTRYPOINT), C(ENV), C(EXPOSE), C(HEALTHCHECK),
        C(LABEL), C(ONBUILD), C(STOPSIGNAL), C(USER), C(VOLUME) and C(WORKDIR), one per element; anything else, or a line
        break inside an element, fails before the commit. Docker 20.10 does not accept C(STOPSIGNAL) yet.
    type: list
    elements: str
    default: []
  config:
    description:
      - Container configuration for the image, with the engine's field names (V(Cmd), V(Env), V(Labels),
        V(ExposedPorts), V(WorkingDir)...). Every field not given is taken from the container's configuration -
        C(User), C(ExposedPorts), C(Env), C(Labels), C(Cmd), C(Entrypoint), C(Healthcheck), C(WorkingDir), C(Volumes)
        and C(StopSignal) by the engine (C(Env), C(Labels), C(ExposedPorts) and C(Volumes) are merged key by key), and
        C(OnBuild), C(Shell) and C(StopTimeout), which the engine would drop, by this module.
    type: dict
    default: {}
  force:
    description: Commit even when O(repository):O(tag) already carries the same fingerprint.
    type: bool
    default: false
seealso:
  - module: moby.engine.image_import
  - module: moby.engine.image_push
"""

EXAMPLES = r"""
- name: Snapshot the configured appliance container
  moby.engine.image_commit:
    container: appliance
    repository: registry.example.com/team/appliance
    tag: "{{ appliance_version }}"
    author: Ops team <ops@example.com>
    comment: configured by the appliance playbook
    changes:
      - ENV APPLIANCE_VERSION={{ appliance_version }}
      - CMD ["/usr/local/bin/appliance", "serve"]
    config:
      Labels:
        com.example.built-by: ansible

- name: Take a new snapshot of the same container on purpose
  moby.engine.image_commit:
    container: appliance
    repository: registry.example.com/team/appliance
    tag: nightly
    force: true
"""

RETURN = r"""
reason:
  description: Why the task changed (or in check mode would change) something, or did not.
  returned: success
  type: str
  sample: the tag names an image made from another source or with other options
image:
  description: Inspect data of the image O(repository):O(tag) names after the task (before it, in check mode).
  returned: when the image exists
  type: dict
  sample:
    Id: sha256:9a1c4f0be1d5b7b8a3f2e4f7d6c5b4a3928170615243a1b2c3d4e5f60718293a
    RepoTags: [registry.example.com/team/appliance:1.4]
    Author: Ops team <ops@example.com>
    Comment: "configured by the appliance playbook [moby.engine commit sha256:5d2e...]"
    Container: 4f66ad9a0b2e0d3c1b6c9f8e7d6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a
fingerprint:
  description: The fingerprint of the container and the options, as stored in the image's comment.
  returned: always
  type: str
  sample: sha256:5d2e6b1c0a9f8e7d6c5b4a3928170615243a1b2c3d4e5f60718293a4b5c6d7e8
container:
  description: Full id of the committed container.
  returned: always
  type: str
  sample: 4f66ad9a0b2e0d3c1b6c9f8e7d6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a
"""

from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.module_utils._snapshots import (
    SNAPSHOT_OPTIONS,
    fingerprint,
    snapshot_decision,
    snapshot_result,
    stamp_comment,
    target_reference,
    validate_changes,
)

OPTIONS = dict(SNAPSHOT_OPTIONS, container={"type": "str", "required": True}, author={"type": "str"},
               pause={"type": "bool", "default": True}, config={"type": "dict", "default": {}})
OPERATION = "commit"
# The fields of the engine's ContainerConfig (API v1.43). The engine ignores any other key without a
# word, so a misspelt field would silently commit an image without the intended setting.
CONTAINER_CONFIG_FIELDS = frozenset((
    "ArgsEscaped", "AttachStderr", "AttachStdin", "AttachStdout", "Cmd", "Domainname", "Entrypoint", "Env",
    "ExposedPorts", "Healthcheck", "Hostname", "Image", "Labels", "MacAddress", "NetworkDisabled", "OnBuild",
    "OpenStdin", "Shell", "StdinOnce", "StopSignal", "StopTimeout", "Tty", "User", "Volumes", "WorkingDir"))


# With a config in the request, the engine fills the fields left empty there from the container's own
# configuration for most fields (its merge()), but not for these: they are taken from the container here.
UNMERGED_FIELDS = ("OnBuild", "Shell", "StopTimeout")


def kept_fields(config: dict, container: dict) -> dict:
    """The container's values of the fields the engine would drop once ``config`` is sent and that it does not
    give itself; nothing without a config (the engine then keeps the container's whole configuration)."""
    if not config:
        return {}
    own = container.get("Config") or {}
    return {field: own[field] for field in UNMERGED_FIELDS
            if field not in config and own.get(field) not in (None, "", [], {})}


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    target = target_reference(params["repository"], params["tag"])
    changes = validate_changes(params["changes"])
    unknown = sorted(set(params["config"]) - CONTAINER_CONFIG_FIELDS)
    if unknown:
        raise InvalidInput("config has unknown fields {0}; the engine's fields are {1} (spelt as shown)".format(
            ", ".join(unknown), ", ".join(sorted(CONTAINER_CONFIG_FIELDS))))
    container = client.inspect_container(params["container"])
    if container is None:
        raise NotFound("no such container {0}; check the name, or create the container first".format(
            params["container"]))
    digest = fingerprint(operation=OPERATION, container=container["Id"], comment=params["comment"],
                         author=params["author"], changes=changes, config=params["config"])
    before = client.inspect_image(target.familiar_tagged())

    # pause does not shape the image, so it is not part of the fingerprint.
    decision = snapshot_decision(before, OPERATION, digest, params["force"])
    after = before
    if decision[0] and not check_mode:
        client.commit_container({
            "container": container["Id"], "repo": target.familiar_repository, "tag": target.tag,
            "comment": stamp_comment(params["comment"], OPERATION, digest), "author": params["author"],
            "pause": params["pause"], "changes": changes or None,
        }, params["config"], kept_fields(params["config"], container))
        after = client.inspect_image(target.familiar_tagged())
    return dict(snapshot_result(target.familiar_tagged(), before, after, decision, check_mode, OPERATION, digest),
                container=container["Id"])


def main() -> None:
    run_module(OPTIONS, run, "Committing container {container} as {repository} failed: {error}")


if __name__ == "__main__":
    main()
