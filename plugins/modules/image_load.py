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
  - With O(platform), only that platform of each image is loaded; the images count as loaded when that platform's
    content is present with the archive's tags, whatever other platforms of them are present or not.
  - Without O(platform), a multi-platform image on the containerd image store counts as loaded only when the
    content of every platform the archive holds is present (so an engine that kept one platform of it loads the
    archive again). This needs API 1.48; older engines with that store count the image as loaded once it exists.
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
  platform:
    description:
      - Load only this platform (V(os[/arch[/variant]]), for example V(linux/arm64)) of the archive's
        multi-platform images. The image keeps its name and its index; only that platform's content is stored, as
        C(docker load --platform) does. Without it every platform the archive holds is loaded.
      - Spellings are normalised as the engine does (V(linux/aarch64) and V(linux/arm64/v8) are V(linux/arm64)).
      - An archive whose images do not name that platform fails before anything is uploaded. (The engine would
        load an archive holding one platform's manifest whatever platform is asked for, giving its tags to that
        platform.)
      - The engine keeps only the loaded platform's content of an image it loads with a platform (seen on Docker
        28.5 with the containerd image store, which deletes the other platforms' content within seconds). So when
        the engine holds content of other platforms of that image, the task fails before anything is uploaded,
        naming them; leave O(platform) unset to load every platform the archive holds.
      - Needs engine API 1.48 (Docker 28.0 or later) and an image store that keeps several platforms of an image
        (the containerd image store); older engines and Podman fail naming the option and their version, before
        anything is uploaded. With API 1.48 itself the engine cannot say whether one platform is present, so the
        archive is uploaded on every run.
    type: str
    version_added: 0.1.0
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

- name: Load only the arm64 platform of a multi-platform archive
  moby.engine.image_load:
    path: /srv/images/app-2.3.1.tar
    platform: linux/arm64

- name: Show what was loaded
  ansible.builtin.debug:
    msg: "{{ loaded.loaded }}"
"""

RETURN = r"""
reason:
  description: Why the archive was (or, in check mode, would be) uploaded, or why it was not.
  returned: always
  type: str
  sample: the linux/arm64 platform of sha256:f40859515934d0c3afea14382e57952bfc5fae8da121fefdce2d0e54638b5579 is not present
archive_images:
  description:
    - The images the archive holds (id and tags), sorted by id.
    - On the containerd image store an image's id is the digest of its manifest (or, for a multi-platform image, of
      its index).
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
  description:
    - Inspect data of the archive's images on the engine after the task (before it, in check mode, for those present).
    - With O(platform), of that platform of each image (on API 1.49 or later).
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

from ansible_collections.moby.engine.plugins.module_utils._archives import ArchiveImage, is_platform, read_archive
from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._files import open_regular
from ansible_collections.moby.engine.plugins.module_utils._references import check_platform, platform_json, platform_matches

OPTIONS = {
    "path": {"type": "path", "required": True},
    "quiet": {"type": "bool", "default": True},
    "platform": {"type": "str"},
}
# POST /images/load takes platform from API 1.48; older engines would load every platform.
REQUIRES = {"platform": Requirement(api="1.48")}


def validate(params: dict) -> None:
    """A bad platform is reported as such on every engine, before the archive or the engine is read."""
    check_platform(params["platform"])


def selected_platforms(archive_images: list, platform: str) -> dict:
    """{archive image id: digest of its manifest for ``platform``}; refuse an archive whose images name other
    platforms only, before anything is uploaded (the engine loads an archive of one platform's manifest whatever
    platform is asked for). An image whose platforms the archive does not record maps to None."""
    selected = {}
    for image in archive_images:
        digest = image.platform_digest(platform)
        if digest is None and image.platforms:
            raise InvalidInput("the archive's image {0} holds {1}, not {2}; nothing was loaded".format(
                ", ".join(image.tags) or image.id, ", ".join(image.platform_names()), platform))
        selected[image.id] = digest
    return selected


def engine_state(client, archive_images: list, platform: str | None = None, selected: dict | None = None,
                 containerd_store: bool = False) -> tuple:
    """({id: [archive tags the engine has for it], or None when it is absent}, [inspect data of the images
    present], {id: [platforms the archive holds whose content the engine lacks]}).

    With ``platform`` an image counts as present only with that platform's content: on the containerd image store
    inspect with platform (API 1.49) answers 404 without it, and otherwise gives the platform manifest's digest as
    Id, which must be the archive's; with the classic store the image is the one platform it has. Without it a
    multi-platform image counts as present only with the content of every platform the archive holds."""
    state, present, lacking = {}, [], {}
    for archive_image in archive_images:
        if platform:
            image = client.inspect_image_for_platform(archive_image.id, platform_json(platform))
            if image is not None and not _is_archived_platform(image, archive_image, platform,
                                                               (selected or {}).get(archive_image.id),
                                                               containerd_store):
                image = None
        else:
            image = client.inspect_image(archive_image.id)
            if image is not None and containerd_store and archive_image.carried:
                lacking[archive_image.id] = _lacking_platforms(client, archive_image)
                image = None if lacking[archive_image.id] else image
        repo_tags = (image or {}).get("RepoTags") or []
        state[archive_image.id] = None if image is None else [tag for tag in archive_image.tags if tag in repo_tags]
        if image is not None:
            present.append(image)
    return state, present, lacking


def _lacking_platforms(client, archive_image: ArchiveImage) -> list:
    """The platforms the archive holds of a multi-platform image whose content the engine lacks (none where the
    engine cannot say)."""
    available = client.available_platforms(archive_image.id)
    if available is None:
        return []
    return [name for name, digest in archive_image.carried if digest not in available]


def refuse_dropping_platforms(client, archive_images: list, platform: str) -> None:
    """Refuse a load of ``platform`` that would cost the engine the content of the images' other platforms.

    Loaded with a platform, an image keeps that platform's content alone: the engine (Docker 28.5, containerd
    image store) lets the content of the platforms it already had be deleted, so a load of linux/arm64 into an
    image with linux/amd64 present leaves amd64 unavailable seconds later."""
    for archive_image in archive_images:
        available = client.available_platforms(archive_image.id) if archive_image.platforms else None
        kept = sorted(name for name in (available or {}).values() if not is_platform(name, platform))
        if kept:
            raise InvalidInput(
                "loading only {0} of {1} would delete the content of {2} that the engine holds for it (the engine "
                "keeps only the loaded platform of an image); leave platform unset to load every platform the "
                "archive holds; nothing was loaded".format(
                    platform, ", ".join(archive_image.tags) or archive_image.id, ", ".join(kept)))


def _is_archived_platform(image: dict, archive_image: ArchiveImage, platform: str, digest: str | None,
                          containerd_store: bool) -> bool:
    if containerd_store:
        # An engine that cannot select the platform (API 1.48) answers with the index: not known to be present.
        return digest is not None and image.get("Id") == digest
    return image.get("Id") == archive_image.id and platform_matches(image, platform)


def decide(before: dict, wanted: dict, platform: str | None = None, lacking: dict | None = None) -> tuple:
    """The idempotency decision: (upload?, why). ``wanted`` is ``{id: [tags]}`` of the archive; ``before`` the
    same for the engine, an id mapping to None when that image (with ``platform``: that platform of it; without:
    the content of the platforms the archive holds, ``lacking`` naming those missing) is absent.

    Nothing is uploaded when every image exists with the same id (and the platforms' content) and all the
    archive's tags."""
    for image_id, tags in wanted.items():
        if before.get(image_id) is None:
            if platform:
                return True, "the {0} platform of {1} is not present".format(platform, image_id)
            missing_platforms = (lacking or {}).get(image_id)
            if missing_platforms:
                return True, "the {0} platform{1} of {2} {3} not present".format(
                    ", ".join(missing_platforms), "s" if len(missing_platforms) > 1 else "", image_id,
                    "are" if len(missing_platforms) > 1 else "is")
            return True, "image {0} is not present".format(image_id)
        missing = [tag for tag in tags if tag not in before[image_id]]
        if missing:
            return True, "image {0} lacks the tags {1}".format(image_id, ", ".join(missing))
    if platform:
        return False, "the {0} platform of every image of the archive is present with its tags".format(platform)
    return False, "every image of the archive is present with its tags"


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    path, platform = params["path"], params["platform"]
    # Never a plain open(): a FIFO would block it, and a link to /dev/zero be read for ever.
    with open_regular(path) as archive:
        # Read (and refuse a bad archive) before asking the engine anything.
        in_archive = read_archive(path, archive)
        selected = selected_platforms(in_archive, platform) if platform else {}
        store = client.uses_containerd_store()
        archive_images = [image.named_for(store) for image in in_archive]
        selected = {named.id: selected.get(image.id) for named, image in zip(archive_images, in_archive)}
        wanted = {image.id: list(image.tags) for image in archive_images}
        before, present, lacking = engine_state(client, archive_images, platform, selected, store)

        changed, reason = decide(before, wanted, platform, lacking)
        if changed and platform and store:
            refuse_dropping_platforms(client, archive_images, platform)
        loaded, after = [], before
        if changed and not check_mode:
            # The file just read, not whatever path names now.
            archive.seek(0)
            _summary, loaded = client.load_images(archive, quiet=params["quiet"], platform=platform_json(platform))
            after, present, _lacking = engine_state(client, archive_images, platform, selected, store)
        elif changed:
            after = wanted
    result = {
        "changed": changed, "reason": reason, "archive_images": [image.as_dict() for image in archive_images], "loaded": loaded,
        "images": present, "diff": {"before": before, "after": after},
    }
    if len(archive_images) == 1 and len(present) == 1:
        result["image"] = present[0]
    return result


def main() -> None:
    run_module(OPTIONS, run, "Loading images from {path} failed: {error}", requires=REQUIRES, validate=validate)


if __name__ == "__main__":
    main()
