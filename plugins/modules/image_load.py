#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_load
short_description: Load images from a tar archive on the managed host, only when they are not loaded yet
version_added: 0.1.0
description:
  - Streams the archive at O(path) to the engine (C(POST /images/load)), like C(docker load -i).
  - Before uploading, the module reads the archive's C(manifest.json) (or OCI C(index.json)). When every image
    in it already exists on the engine with the same id and carries all of the archive's tags, nothing is
    uploaded and the task reports no change.
  - An archive that is cut short, lacks files its manifest names, or is not an image archive at all fails
    before anything is sent, so no image changes.
  - Archives compressed with gzip, bzip2 or xz are accepted, as the engine accepts them.
  - The archive is opened once; the file checked is the file uploaded, even if O(path) is replaced meanwhile.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
attributes:
  diff_mode:
    details: For each image of the archive, the tags it carries on the engine before and after.
options:
  path:
    description:
      - The archive on the managed host, as written by M(moby.engine.image_export) or C(docker save).
      - It must be a regular file, or a symbolic link to one; a FIFO or a device is refused without reading it.
    type: path
    required: true
  quiet:
    description: Ask the engine not to send per-layer progress while loading.
    type: bool
    default: true
seealso:
  - module: moby.engine.image_export
"""

EXAMPLES = r"""
- name: Copy the release archive to the offline host
  ansible.builtin.copy:
    src: images/app-2.3.1.tar
    dest: /srv/images/app-2.3.1.tar
    mode: "0644"

- name: Load it (uploads nothing when the images are already there)
  moby.engine.image_load:
    path: /srv/images/app-2.3.1.tar
  register: loaded

- name: Show what was loaded
  ansible.builtin.debug:
    msg: "{{ loaded.loaded }}"
"""

RETURN = r"""
archive_images:
  description: The images the archive holds (id and tags), sorted by id.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The image id (config digest).
      type: str
      sample: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    tags:
      description: The tags the archive gives the image.
      type: list
      elements: str
      sample: [registry.example.com/team/app:2.3.1]
loaded:
  description:
    - What the engine reported loading, as it reported it (V(repo:tag), or the image id for untagged images).
    - Empty when nothing was uploaded.
  returned: always
  type: list
  elements: str
  sample: [registry.example.com/team/app:2.3.1]
images:
  description: Inspect data of the archive's images on the engine after the task (before it, in check mode, for those present).
  returned: always
  type: list
  elements: dict
  sample:
    - Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
      RepoTags: [registry.example.com/team/app:2.3.1]
image:
  description: Inspect data of the image, when the archive holds exactly one and it is present after the task.
  returned: when the archive holds one image that is present
  type: dict
  sample:
    Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    RepoTags: [registry.example.com/team/app:2.3.1]
"""

from ansible_collections.moby.engine.plugins.module_utils._archives import read_archive
from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._files import open_regular

OPTIONS = {
    "path": {"type": "path", "required": True},
    "quiet": {"type": "bool", "default": True},
}


def engine_state(client, archive_images: list) -> tuple:
    """({id: [archive tags the engine has for it]}, [inspect data of the images present])."""
    state, present = {}, []
    for archive_image in archive_images:
        image = client.inspect_image(archive_image.id)
        repo_tags = (image or {}).get("RepoTags") or []
        state[archive_image.id] = None if image is None else [tag for tag in archive_image.tags if tag in repo_tags]
        if image is not None:
            present.append(image)
    return state, present


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    path = params["path"]
    # Never a plain open(): a FIFO would block it, and a link to /dev/zero be read for ever.
    with open_regular(path) as archive:
        # Read (and refuse a bad archive) before asking the engine anything.
        in_archive = read_archive(path, archive)
        store = client.uses_containerd_store()
        archive_images = [image.named_for(store) for image in in_archive]
        wanted = {image.id: list(image.tags) for image in archive_images}
        before, present = engine_state(client, archive_images)

        # The idempotency decision: upload unless every image exists with the same id and all the archive's tags.
        changed = before != wanted
        loaded, after = [], before
        if changed and not check_mode:
            # The file just read, not whatever path names now.
            archive.seek(0)
            _summary, loaded = client.load_images(archive, quiet=params["quiet"])
            after, present = engine_state(client, archive_images)
        elif changed:
            after = wanted
    result = {
        "changed": changed, "archive_images": [image.as_dict() for image in archive_images], "loaded": loaded,
        "images": present, "diff": {"before": before, "after": after},
    }
    if len(archive_images) == 1 and len(present) == 1:
        result["image"] = present[0]
    return result


def main() -> None:
    run_module(OPTIONS, run, "Loading images from {path} failed: {error}")


if __name__ == "__main__":
    main()
