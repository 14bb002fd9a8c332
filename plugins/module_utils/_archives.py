# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which images an image archive holds (``docker save`` layout with ``manifest.json``, or the OCI layout
with ``index.json``), read without reading its layers."""

from __future__ import annotations

import json
import os
import tarfile
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._references import parse_reference

# manifest.json, index.json and manifest blobs are small; refuse to read a "manifest" the size of a layer.
MAX_METADATA_SIZE = 16 * 1024 * 1024
_MANIFEST_MEDIA_TYPES = frozenset((
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_INDEX_MEDIA_TYPES = frozenset((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
))
_CONTAINERD_NAME = "io.containerd.image.name"
_OCI_REF_NAME = "org.opencontainers.image.ref.name"
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class InvalidArchive(InvalidInput):
    """A file is not a complete image archive."""


@dataclass(frozen=True)
class ArchiveImage:
    """One image of an archive: its id (config digest) and the tags the archive gives it."""

    id: str
    tags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tags": list(self.tags)}


def images_as_dict(images: Iterable[ArchiveImage]) -> dict[str, list[str]]:
    """``{id: [tags]}``, the form compared for idempotency and shown in diffs."""
    return {image.id: list(image.tags) for image in images}


# -- reading archives ------------------------------------------------------


def read_archive(path: str) -> list[ArchiveImage]:
    """The images an archive holds, sorted by id; raise InvalidArchive when it is not a complete one.

    Only tar headers and the small metadata files are read: layers are skipped with seeks,
    so this costs milliseconds even for archives of many GiB.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as probe:
            compressed = probe.read(6).startswith(_COMPRESSED_MAGIC)
        try:
            archive = tarfile.open(path, "r:*")
        except tarfile.ReadError:
            raise InvalidArchive("{0} is not a tar archive (plain, or compressed with gzip, bzip2 or xz); "
                                 "give an archive written by docker save or image_export".format(path))
        with archive:
            members = {_member_name(member.name): member for member in archive.getmembers()}
            if not compressed:
                _check_complete(members.values(), size)
            if "manifest.json" in members:
                return merge_images(_images_from_manifest(archive, members))
            if "index.json" in members:
                return merge_images(_images_from_index(archive, members))
    except InvalidArchive:
        raise
    # A damaged compressed stream raises EOFError or ValueError; JSON of the wrong shape a Key/Type/AttributeError.
    except (tarfile.TarError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidArchive("{0} is damaged or cut short ({1}); write it again".format(path, exc or type(exc).__name__))
    except OSError as exc:
        raise InvalidArchive("cannot read {0}: {1}".format(path, exc.strerror or exc))
    raise InvalidArchive(
        "{0} holds neither manifest.json nor index.json: it is not an image archive (as written by "
        "docker save or image_export), or it was cut short".format(path))


def _member_name(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def _check_complete(members: Iterable[tarfile.TarInfo], size: int) -> None:
    # tarfile skips file data with seeks, so a cut-off archive only shows as data running past the end.
    for member in members:
        if member.isfile() and member.offset_data + member.size > size:
            raise InvalidArchive("the archive is truncated: {0} ends {1} bytes past the end of the file".format(
                member.name, member.offset_data + member.size - size))


def _read_json(archive: tarfile.TarFile, members: dict, name: str) -> Any:
    member = members.get(name)
    if member is None or not member.isfile():
        raise InvalidArchive("the archive lacks {0}, which its manifest refers to".format(name))
    if member.size > MAX_METADATA_SIZE:
        raise InvalidArchive("{0} in the archive is {1} bytes, too large for image metadata".format(name, member.size))
    handle = archive.extractfile(member)
    try:
        return json.loads(handle.read().decode("utf-8"))
    except ValueError as exc:
        raise InvalidArchive("{0} in the archive is not valid JSON: {1}".format(name, exc))


def _require(members: dict, names: Iterable[str]) -> None:
    for name in names:
        if _member_name(name) not in members:
            raise InvalidArchive("the archive lacks {0}, which its manifest refers to".format(name))


def _digest_from_path(path: str) -> str:
    """The config digest named by a manifest.json ``Config`` path (``<hex>.json`` or ``blobs/sha256/<hex>``)."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return "{0}:{1}".format(parts[1], parts[2])
    name = parts[-1]
    return "sha256:" + (name[:-len(".json")] if name.endswith(".json") else name)


def _blob_path(digest: str) -> str:
    algorithm, _sep, hexpart = str(digest).partition(":")
    if not hexpart:
        raise InvalidArchive("the archive's index names an invalid digest {0!r}".format(digest))
    return "blobs/{0}/{1}".format(algorithm, hexpart)


def _images_from_manifest(archive: tarfile.TarFile, members: dict) -> list[ArchiveImage]:
    entries = _read_json(archive, members, "manifest.json")
    if not isinstance(entries, list):
        raise InvalidArchive("manifest.json in the archive is not a list of images")
    images = []
    for entry in entries:
        config = entry.get("Config")
        if not config:
            raise InvalidArchive("an entry of manifest.json names no Config")
        _require(members, [config] + list(entry.get("Layers") or []))
        tags = tuple(familiar_tag(tag) for tag in entry.get("RepoTags") or ())
        images.append(ArchiveImage(_digest_from_path(config), tags))
    return images


def familiar_tag(text: str) -> str:
    """A name as docker load applies it: Podman writes (and reports loading) docker.io/team/app:1 for team/app:1."""
    try:
        return parse_reference(text).familiar_tagged()
    except InvalidInput:
        return text


def _images_from_index(archive: tarfile.TarFile, members: dict) -> list[ArchiveImage]:
    index = _read_json(archive, members, "index.json")
    images = []
    for descriptor in index.get("manifests") or []:
        blob = _blob_path(descriptor.get("digest"))
        _require(members, [blob])
        media_type = descriptor.get("mediaType")
        if media_type in _INDEX_MEDIA_TYPES:
            # A multi-platform image: engines with the containerd store use the index digest as the image id.
            image_id = descriptor["digest"]
        elif media_type in _MANIFEST_MEDIA_TYPES:
            manifest = _read_json(archive, members, blob)
            layers = [_blob_path(layer.get("digest")) for layer in manifest.get("layers") or []]
            image_id = manifest["config"]["digest"]
            _require(members, [_blob_path(image_id)] + layers)
        else:
            raise InvalidArchive("index.json in the archive refers to {0!r}, which is not an image".format(media_type))
        tag = _tag_from_annotations(descriptor.get("annotations") or {})
        images.append(ArchiveImage(image_id, (tag,) if tag else ()))
    return images


def _tag_from_annotations(annotations: dict) -> Optional[str]:
    """The familiar ``repo:tag`` an OCI index entry carries, as docker load would apply it."""
    for key in (_CONTAINERD_NAME, _OCI_REF_NAME):
        try:
            ref = parse_reference(annotations.get(key) or "")
        except InvalidInput:
            # Absent, or a bare tag such as "latest" (an OCI ref.name without repository): no name to load.
            continue
        if ref.tag and not ref.digest and ("/" in annotations[key] or ":" in annotations[key]):
            return ref.familiar_tagged()
    return None


def merge_images(images: Iterable[ArchiveImage]) -> list[ArchiveImage]:
    """One entry per image id, with the tags of every entry for it, sorted by id."""
    tags: dict[str, set] = {}
    for image in images:
        tags.setdefault(image.id, set()).update(image.tags)
    return [ArchiveImage(image_id, tuple(sorted(tags[image_id]))) for image_id in sorted(tags)]

