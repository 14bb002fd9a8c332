#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_export
short_description: Save images to a tar archive on the managed host, only when the archive is out of date
version_added: 0.1.0
description:
  - Writes the images named in O(name) into one archive at O(path), like C(docker save -o)
    (C(GET /images/{name}/get) for one image, C(GET /images/get?names=) for several).
  - The archive is streamed to a temporary file in the directory of O(path) and renamed into place only
    when the download completed and the result reads as an image archive. When anything fails (an engine
    error, a broken connection, a full disk) the previous file at O(path) stays as it was and no
    temporary file is left behind.
  - When O(path) already holds an archive with exactly the images (ids, that is config digests) and tags
    that exporting O(name) would write now, nothing is downloaded and the task reports no change.
    Both the C(docker save) layout (C(manifest.json)) and the OCI layout (C(index.json)) are read.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
attributes:
  diff_mode:
    details: The archive's images (id and tags) before and after.
options:
  name:
    description:
      - Images to export, by V(repo:tag), V(repo@digest) or id. A name without a tag means O(tag), else V(latest).
      - Each V(repo:tag) is stored with that tag; images given by id or digest are stored without tags.
    type: list
    elements: str
    required: true
    aliases: [names]
  tag:
    description: Tag of the names in O(name) that carry neither a tag nor a digest (community.docker's C(tag)).
    type: str
  path:
    description:
      - Where to write the archive on the managed host. Its directory must exist.
      - A replaced file keeps its permissions, and its owner and group where the user running the module may
        give them (root always may); a new file gets the default permissions under the umask.
      - When O(path) exists it must be a regular file. A FIFO, a device, a socket or a symbolic link there is
        refused and left alone; see the notes.
    type: path
    required: true
  force:
    description: Write the archive even when O(path) already holds the same images and tags.
    type: bool
    default: false
notes:
  - A symbolic link at O(path) is refused rather than followed or replaced, as C(docker save -o) does since
    Docker 28.1 ("cannot write to a symbolic link directly"; older CLIs renamed the new archive over the link,
    turning it into a file). Following it would let whoever can create a link in that directory choose which
    file the module (often run as root) replaces; replacing it would silently break the link. Give the path
    the link points to instead.
  - The new archive is written to disk (C(fsync)) before it is renamed over the old one, and the directory
    after the rename, so that after a crash O(path) holds the old archive or the complete new one.
seealso:
  - module: moby.engine.image_load
"""

EXAMPLES = r"""
- name: Save the release image for an offline host
  moby.engine.image_export:
    name: registry.example.com/team/app:2.3.1
    path: /srv/images/app-2.3.1.tar

- name: Save a whole stack into one archive
  moby.engine.image_export:
    name:
      - registry.example.com/team/api:2.3
      - registry.example.com/team/web:2.3
      - postgres:16
    path: /srv/images/stack-2.3.tar
  register: stack_archive

- name: Show what the archive holds
  ansible.builtin.debug:
    msg: "{{ stack_archive.size }} bytes, images {{ stack_archive.images | map(attribute='id') | list }}"
"""

RETURN = r"""
path:
  description: The archive's path.
  returned: always
  type: str
  sample: /srv/images/app-2.3.1.tar
size:
  description: Size of the archive at O(path) in bytes (in check mode, of the file there now; 0 when there is none).
  returned: always
  type: int
  sample: 4468736
images:
  description: The images in the archive (in check mode, the images it would hold), sorted by id.
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
image:
  description: Inspect data of the exported image, when O(name) has one element.
  returned: when O(name) has one element
  type: dict
  sample:
    Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    RepoTags: [registry.example.com/team/app:2.3.1]
"""

import os
import stat

from ansible_collections.moby.engine.plugins.module_utils._archives import (
    ArchiveImage,
    InvalidArchive,
    images_as_dict,
    merge_images,
    read_archive,
)
from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.module_utils._files import AtomicFile, UnreadableFile, check_path, file_kind, open_regular
from ansible_collections.moby.engine.plugins.module_utils._references import looks_like_image_id, parse_image_name, tagged_name

OPTIONS = {
    "name": {"type": "list", "elements": "str", "required": True, "aliases": ["names"]},
    "tag": {"type": "str"},
    "path": {"type": "path", "required": True},
    "force": {"type": "bool", "default": False},
}


def resolve(client, name: str) -> tuple:
    """(name to send to the engine, inspect data, image as the archive will hold it) for one element of name."""
    if looks_like_image_id(name):
        image = client.inspect_image(name)
        if image is not None and image["Id"].split(":")[-1].startswith(name.split(":")[-1]):
            return image["Id"], image, ArchiveImage(image["Id"])
    ref = parse_image_name(name)
    image = client.inspect_image(name if ref is None else ref.familiar())
    if image is None:
        raise NotFound("no such image {0}".format(name))
    if ref is None or ref.digest:
        # The engine stores images named by id or digest without a tag.
        return image["Id"], image, ArchiveImage(image["Id"])
    return ref.familiar_tagged(), image, ArchiveImage(image["Id"], (ref.familiar_tagged(),))


def current_archive(path: str) -> list | None:
    """The images of the archive at path, or None when there is no readable archive there."""
    check_path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInput("cannot examine path {0}: {1}".format(path, exc.strerror or exc))
    if stat.S_ISDIR(mode):
        raise InvalidInput("path {0} is a directory; give the archive's file name".format(path))
    if stat.S_ISLNK(mode):
        raise InvalidInput("path {0} is a symbolic link (to {1}); image_export does not write through links, as "
                           "docker save -o does not: give the file's own path".format(path, os.path.realpath(path)))
    if not stat.S_ISREG(mode):
        # Reading a FIFO to decide idempotency would wait for a writer for ever; replacing a device is never meant.
        raise InvalidInput("path {0} is {1}, not a regular file; image_export writes regular files only".format(
            path, file_kind(mode)))
    try:
        with open_regular(path, follow_symlinks=False) as existing:
            return read_archive(path, existing)
    except (InvalidArchive, UnreadableFile):
        # Whatever is there is not an archive of images (or not one this user can read): it gets replaced.
        return None


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    path = params["path"]
    if not params["name"]:
        raise InvalidInput("name lists no image; give at least one image to export")
    resolved = [resolve(client, tagged_name(name, params["tag"])) for name in params["name"]]
    engine_names = list(dict.fromkeys(entry[0] for entry in resolved))
    wanted = images_as_dict(merge_images(entry[2] for entry in resolved))
    existing = current_archive(path)
    store = client.uses_containerd_store()
    before = None if existing is None else images_as_dict(image.named_for(store) for image in existing)

    # The idempotency decision: write unless the archive at path holds exactly the wanted images and tags.
    changed = params["force"] or before != wanted
    images = wanted
    if changed and not check_mode:
        with AtomicFile(path) as target:
            client.export_images(engine_names, target.file)
            target.file.flush()
            # The engine reports an error that happens mid-stream inside the body, so check what arrived.
            images = images_as_dict(image.named_for(store) for image in read_archive(target.temp_path))
            target.commit()
    result = {
        "changed": changed, "path": path, "size": os.path.getsize(path) if os.path.exists(path) else 0,
        "images": [{"id": image_id, "tags": tags} for image_id, tags in images.items()],
        "diff": {"before": {"path": path, "images": before or {}}, "after": {"path": path, "images": images}},
    }
    if len(resolved) == 1:
        result["image"] = resolved[0][1]
    return result


def main() -> None:
    run_module(OPTIONS, run, "Exporting {name} to {path} failed: {error}; {path} was left as it was")


if __name__ == "__main__":
    main()
