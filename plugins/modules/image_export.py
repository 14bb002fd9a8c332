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
  - With O(platform), only that platform of the images is written, and an archive at O(path) is current only when
    it holds that platform's manifest of each image (on the containerd image store; with the classic store the
    image's id, which is its one platform's), so an archive of the whole image or of another platform is replaced.
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
  platform:
    description:
      - Write only this platform (V(os[/arch[/variant]]), for example V(linux/arm64)) of a multi-platform image,
        that is its manifest, config and layers, under the image's tags. Without it the whole image is written, every
        platform the engine holds.
      - Spellings are normalised as the engine does (V(linux/aarch64) and V(linux/arm64/v8) are V(linux/arm64)).
      - The engine must hold that platform's content; an image that has other platforms only fails naming the
        platform, before anything is written.
      - Needs engine API 1.48 (Docker 28.0 or later) and an image store that keeps several platforms of an image
        (the containerd image store); older engines and Podman fail naming the option and their version, before
        anything is written. With API 1.48 itself the engine cannot say which manifest a platform is, so the
        archive is written on every run.
    type: str
    version_added: 0.1.0
notes:
  - A symbolic link at O(path) is refused rather than followed or replaced, as C(docker save -o) does since
    Docker 28.1 ("cannot write to a symbolic link directly"; older CLIs renamed the new archive over the link,
    turning it into a file). Following it would let whoever can create a link in that directory choose which
    file the module (often run as root) replaces; replacing it would silently break the link. Give the path
    the link points to instead.
  - The new archive is written to disk (C(fsync)) before it is renamed over the old one, and the directory
    after the rename, so that after a crash O(path) holds the old archive or the complete new one.
  - Where the file system allows it, the archive goes straight to the disk (C(O_DIRECT)), not through the page
    cache, which is faster and leaves the host's cache to its other work; reading the archive soon after (with
    M(moby.engine.image_load), say) then reads it from the disk. Elsewhere (tmpfs, some FUSE and network file
    systems) it is written through the cache.
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

- name: Save only the arm64 platform of a multi-platform image, for an arm64 host
  moby.engine.image_export:
    name: registry.example.com/team/app:2.3.1
    platform: linux/arm64
    path: /srv/images/app-2.3.1-arm64.tar

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
reason:
  description: Why the archive was (or, in check mode, would be) written, or why it was not.
  returned: always
  type: str
  sample: the archive holds linux/amd64 of these images, not linux/arm64
images:
  description:
    - The images in the archive (in check mode, the images it would hold), sorted by id.
    - On the containerd image store an image's id is the digest of its manifest (or, for a multi-platform image, of
      its index); with O(platform), of that platform's manifest.
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
  description:
    - Inspect data of the exported image, when O(name) has one element.
    - With O(platform), that platform's (on API 1.49 or later).
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
    is_platform,
    merge_images,
    read_archive,
)
from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.module_utils._files import AtomicFile, UnreadableFile, check_path, file_kind, open_regular
from ansible_collections.moby.engine.plugins.module_utils._references import (
    check_platform,
    looks_like_image_id,
    parse_image_name,
    platform_json,
    tagged_name,
)

OPTIONS = {
    "name": {"type": "list", "elements": "str", "required": True, "aliases": ["names"]},
    "tag": {"type": "str"},
    "path": {"type": "path", "required": True},
    "force": {"type": "bool", "default": False},
    "platform": {"type": "str"},
}
# GET /images/{name}/get takes platform from API 1.48; older engines would write the whole image.
REQUIRES = {"platform": Requirement(api="1.48")}


def validate(params: dict) -> None:
    """A bad platform is reported as such on every engine, before the engine is asked anything."""
    check_platform(params["platform"])


def resolve(client, name: str, platform: str | None = None) -> tuple:
    """(name to send to the engine, inspect data, image as the archive will hold it) for one element of name.

    With ``platform`` the archive holds that platform's manifest: on the containerd image store its digest is the
    id inspect with platform gives (API 1.49), as it is the id the archive gives that image there."""
    engine_name, image, archived = _resolve(client, name)
    if not platform:
        return engine_name, image, archived
    selected = client.inspect_image_for_platform(engine_name, platform_json(platform))
    if selected is None:
        raise NotFound("image {0} holds no content for platform {1}; pull that platform first (image_pull with "
                       "platform)".format(name, platform))
    return engine_name, selected, ArchiveImage(selected["Id"], archived.tags)


def _resolve(client, name: str) -> tuple:
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


def decide(before: dict | None, wanted: dict, force: bool = False, platform: str | None = None,
           held_platforms: tuple = ()) -> tuple:
    """The idempotency decision: (write?, why). ``before`` and ``wanted`` are ``{id: [tags]}`` of the archive at
    path (None when there is none) and of what exporting would write; ``held_platforms`` the platforms the
    archive's images name.

    The archive is current when it holds exactly the wanted images and tags. Ids tell platforms apart: with
    ``platform`` a wanted id is that platform's manifest digest (the containerd image store), which an archive of
    the whole image (its index digest) or of another platform does not have."""
    if force:
        return True, "force is set"
    if before is None:
        return True, "there is no image archive at path"
    if before == wanted:
        if platform:
            return False, "the archive holds the {0} platform of these images with these tags".format(platform)
        return False, "the archive holds these images with these tags"
    same_tags = sorted(map(sorted, before.values())) == sorted(map(sorted, wanted.values()))
    if platform and same_tags and len(held_platforms) > 1:
        return True, "the archive holds {0} of these images, not {1} alone".format(", ".join(held_platforms), platform)
    if platform and same_tags and not any(is_platform(held, platform) for held in held_platforms):
        return True, "the archive holds {0} of these images, not {1}".format(
            ", ".join(held_platforms) or "other manifests", platform)
    return True, "the archive holds other images or tags"


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    path, platform = params["path"], params["platform"]
    if not params["name"]:
        raise InvalidInput("name lists no image; give at least one image to export")
    resolved = [resolve(client, tagged_name(name, params["tag"]), platform) for name in params["name"]]
    engine_names = list(dict.fromkeys(entry[0] for entry in resolved))
    wanted = images_as_dict(merge_images(entry[2] for entry in resolved))
    existing = current_archive(path)
    store = client.uses_containerd_store()
    before = None if existing is None else images_as_dict(image.named_for(store) for image in existing)
    held = tuple(sorted({name for image in existing or () for name in image.platform_names()}))

    changed, reason = decide(before, wanted, params["force"], platform, held)
    images = wanted
    if changed and not check_mode:
        with AtomicFile(path) as target:
            client.export_images(engine_names, target.file, platform=platform_json(platform))
            target.file.flush()
            # The engine reports an error that happens mid-stream inside the body, so check what arrived.
            images = images_as_dict(image.named_for(store) for image in read_archive(target.temp_path))
            target.commit()
    result = {
        "changed": changed, "reason": reason, "path": path, "size": os.path.getsize(path) if os.path.exists(path) else 0,
        "images": [{"id": image_id, "tags": tags} for image_id, tags in images.items()],
        "diff": {"before": {"path": path, "images": before or {}}, "after": {"path": path, "images": images}},
    }
    if len(resolved) == 1:
        result["image"] = resolved[0][1]
    return result


def main() -> None:
    run_module(OPTIONS, run, "Exporting {name} to {path} failed: {error}; {path} was left as it was",
               requires=REQUIRES, validate=validate)


if __name__ == "__main__":
    main()
