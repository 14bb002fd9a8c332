# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which images an image archive holds (``docker save`` layout with ``manifest.json``, or the OCI layout
with ``index.json``), read without reading its layers."""

from __future__ import annotations

import json
import os
import tarfile
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._files import UnreadableFile, open_regular
from ansible_collections.moby.engine.plugins.module_utils._references import parse_reference, platform_matches, platform_name

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
# tarfile reads a PAX or GNU long-name header's whole data into memory as soon as it meets one, and
# follows a chain of them by recursion: a 510 KiB .tar.gz claiming a 512 MiB PAX header took 1.5 GiB.
# Real headers hold a few long names or attributes; these bounds are far above any archive docker
# save, Podman or an OCI exporter writes, and far below what hurts a managed host.
MAX_HEADER_SIZE = 1024 * 1024
MAX_HEADER_CHAIN = 8
MAX_HEADERS_TOTAL = 16 * 1024 * 1024
# Each member costs tarfile a TarInfo kept in memory; image archives have a few per layer.
MAX_MEMBERS = 100000
_GNUTYPE_SPARSE = tarfile.GNUTYPE_SPARSE
_EXTENDED_HEADER_TYPES = frozenset((tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                                    tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK))
# Beyond any JSON an image archive holds; Python before 3.11 converts long digit strings in quadratic time.
_MAX_JSON_NUMBER_DIGITS = 100


class InvalidArchive(InvalidInput):
    """A file is not a complete image archive."""


@dataclass(frozen=True)
class ArchiveImage:
    """One image of an archive: its id (config digest), the tags the archive gives it, the digest of its
    manifest or index where the archive records one (index.json), and its platforms.

    Engines with the classic image store name an image by its config digest; engines with the containerd
    image store by the digest of its manifest (or, for a multi-platform image, its index).

    ``platforms`` pairs each platform the image names (``os/arch[/variant]``) with the digest of that platform's
    manifest (the config digest where the archive records no manifest); empty where the archive does not say.
    A multi-platform image names every platform of its index, whether or not the archive holds its content;
    ``carried`` are the pairs of the platforms of a multi-platform image whose manifest, config and layers the
    archive holds (empty for any other image).
    """

    id: str
    tags: tuple[str, ...] = ()
    target: Optional[str] = None
    platforms: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    carried: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def named_for(self, containerd_store: bool) -> "ArchiveImage":
        """This image under the id an engine gives it: the manifest (or index) digest on the containerd image
        store, where the archive records it, else the config digest."""
        if containerd_store and self.target:
            return ArchiveImage(self.target, self.tags, self.target, self.platforms, self.carried)
        return self

    def platform_digest(self, platform: str) -> Optional[str]:
        """The digest of this image's manifest for ``platform`` (``os[/arch[/variant]]``, matched as the engine
        normalises it), or None when it names no such platform."""
        return next((digest for named, digest in self.platforms if is_platform(named, platform)), None)

    def platform_names(self) -> list[str]:
        return sorted(set(named for named, _digest in self.platforms))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tags": list(self.tags)}


def is_platform(named: str, platform: str) -> bool:
    """Whether ``named`` (``os/arch[/variant]`` as an archive names it) is ``platform`` as the engine reads it."""
    system, _sep, rest = named.partition("/")
    arch, _sep, variant = rest.partition("/")
    return platform_matches({"Os": system, "Architecture": arch, "Variant": variant}, platform)


def images_as_dict(images: Iterable[ArchiveImage]) -> dict[str, list[str]]:
    """``{id: [tags]}``, the form compared for idempotency and shown in diffs."""
    return {image.id: list(image.tags) for image in images}


# -- reading archives ------------------------------------------------------


class _Refused(Exception):
    """A member tarfile must not go on reading; read_archive names the file in the InvalidArchive."""


class _HeaderBudget:
    """What one archive has spent on extended headers: along the chain being read, and in all."""

    def __init__(self) -> None:
        self.chain_length = 0
        self.total = 0


class _GuardedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses oversized extended headers before tarfile reads them into memory.

    tarfile.py names _proc_member as the hook for subclasses; it is called with the header block
    parsed and the header's data not read yet.
    """

    def _proc_member(self, tarfile):  # pylint: disable=redefined-outer-name
        if self.type == _GNUTYPE_SPARSE:
            _refuse_sparse(self)
        if self.type not in _EXTENDED_HEADER_TYPES:
            return super()._proc_member(tarfile)
        budget = tarfile.__dict__.setdefault("_moby_header_budget", _HeaderBudget())
        if self.size > MAX_HEADER_SIZE:
            raise _Refused("the {0} header of member {1} claims {2} bytes, more than the {3} any image archive "
                           "needs; it is not an image archive".format(
                               _header_kind(self.type), _shown(self), self.size, MAX_HEADER_SIZE))
        if budget.chain_length >= MAX_HEADER_CHAIN or budget.total + self.size > MAX_HEADERS_TOTAL:
            raise _Refused("member {0} comes after too many extended tar headers ({1} in a row, {2} bytes in the "
                           "archive); it is not an image archive".format(
                               _shown(self), budget.chain_length + 1, budget.total + self.size))
        budget.chain_length += 1
        budget.total += self.size
        try:
            return super()._proc_member(tarfile)
        finally:
            budget.chain_length -= 1

    # A PAX header can announce a sparse file whose map (format 1.0) tarfile reads for as long as the map
    # claims; the 0.x formats keep the map in the (bounded) header. All are refused alike.
    def _proc_gnusparse_00(self, *args: Any) -> None:
        _refuse_sparse(args[0])

    def _proc_gnusparse_01(self, *args: Any) -> None:
        _refuse_sparse(args[0])

    def _proc_gnusparse_10(self, *args: Any) -> None:
        _refuse_sparse(args[0])


def _refuse_sparse(member: tarfile.TarInfo) -> None:
    # tarfile reads a GNU sparse map block by block for as long as the archive says. No image archive has
    # one: docker save, Podman and OCI exporters write with Go's archive/tar, which writes no sparse files.
    raise _Refused("member {0} is a sparse file, which no image archive holds".format(_shown(member)))


def _shown(member: tarfile.TarInfo) -> str:
    return repr(member.name[:200]) if member.name else "(unnamed)"


def _header_kind(member_type: bytes) -> str:
    if member_type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
        return "GNU long name"
    return "PAX global" if member_type == tarfile.XGLTYPE else "PAX extended"


def read_archive(path: str, source: Optional[IO[bytes]] = None) -> list[ArchiveImage]:
    """The images an archive holds, sorted by id; raise InvalidArchive when it is not a complete one.

    ``source`` is the archive already opened (by open_regular), read from its start; without it,
    path is opened here, and must be a regular file (or a link to one).
    Only tar headers and the small metadata files are read: layers are skipped with seeks,
    so this costs milliseconds even for archives of many GiB.
    """
    if source is None:
        try:
            opened = open_regular(path)
        except UnreadableFile as exc:
            raise InvalidArchive("cannot read {0}: {1}".format(path, exc.reason))
        with opened:
            return read_archive(path, opened)
    try:
        archive, compressed, size = _open_tar(path, source)
        with archive:
            members = _members(archive)
            if not compressed:
                _check_complete(members.values(), size)
            images = _images(archive, members)
            if images is not None:
                return merge_images(images)
    except InvalidArchive:
        raise
    except _Refused as exc:
        raise InvalidArchive("{0}: {1}".format(path, exc))
    except RecursionError:
        raise InvalidArchive("{0} is damaged: its tar headers nest too deeply".format(path))
    # A damaged compressed stream raises EOFError or ValueError; JSON of the wrong shape a Key/Type/AttributeError.
    except (tarfile.TarError, EOFError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise InvalidArchive("{0} is damaged or cut short ({1}); write it again".format(path, exc or type(exc).__name__))
    except OSError as exc:
        raise InvalidArchive("cannot read {0}: {1}".format(path, exc.strerror or exc))
    raise InvalidArchive(
        "{0} holds neither manifest.json nor index.json: it is not an image archive (as written by "
        "docker save or image_export), or it was cut short".format(path))


def _open_tar(path: str, source: IO[bytes]) -> tuple:
    """(tar archive, whether it is compressed, the file's size)."""
    size = os.fstat(source.fileno()).st_size
    source.seek(0)
    compressed = source.read(6).startswith(_COMPRESSED_MAGIC)
    source.seek(0)
    try:
        return tarfile.open(fileobj=source, mode="r:*", tarinfo=_GuardedTarInfo), compressed, size
    except tarfile.ReadError:
        raise InvalidArchive("{0} is not a tar archive (plain, or compressed with gzip, bzip2 or xz); "
                             "give an archive written by docker save or image_export".format(path))


def _images(archive: tarfile.TarFile, members: dict) -> Optional[list[ArchiveImage]]:
    """The images of manifest.json (with the manifest digests index.json adds) or of index.json; None without
    either."""
    if "manifest.json" in members:
        images = _images_from_manifest(archive, members)
        if "index.json" in members:
            # docker save from Docker 25 on writes both; only index.json knows the manifest digests.
            images = _with_index(images, _images_from_index(archive, members))
        return images
    if "index.json" in members:
        return _images_from_index(archive, members)
    return None


def _with_index(images: list[ArchiveImage], indexed: list[ArchiveImage]) -> list[ArchiveImage]:
    """The images of manifest.json with the target and platforms of their index.json entries.

    An index.json entry is the image's when it names the same config (a single-platform image); a multi-platform
    image is an index there, while manifest.json names the config of one of its platforms only (Docker 28's
    containerd store), so its entry is the one with the same tag, or, untagged, the one entry left over.
    """
    by_id = {image.id: image for image in indexed}
    by_tag = {tag: image for image in indexed for tag in image.tags}
    matched = [by_id.get(image.id) or next((by_tag[tag] for tag in image.tags if tag in by_tag), None)
               for image in images]
    unmatched = [image for image in indexed if image not in matched]
    if matched.count(None) == 1 and len(unmatched) == 1:
        matched[matched.index(None)] = unmatched[0]
    return [image if entry is None else ArchiveImage(image.id, image.tags, entry.target,
                                                     entry.platforms or image.platforms, entry.carried)
            for image, entry in zip(images, matched)]


def _members(archive: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members = {}
    for count, member in enumerate(archive, 1):
        if count > MAX_MEMBERS:
            raise InvalidArchive("the archive has more than {0} members, more than any image archive; it is not "
                                 "an image archive (or a hostile one)".format(MAX_MEMBERS))
        members[_member_name(member.name)] = member
    return members


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
        return json.loads(handle.read().decode("utf-8"), parse_int=_json_int)
    except RecursionError:
        raise InvalidArchive("{0} in the archive nests too deeply to be image metadata".format(name))
    except ValueError as exc:
        raise InvalidArchive("{0} in the archive is not valid JSON: {1}".format(name, exc))


def _json_int(text: str) -> int:
    if len(text) > _MAX_JSON_NUMBER_DIGITS:
        raise ValueError("a number of {0} digits".format(len(text)))
    return int(text)


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
        image_id = _digest_from_path(config)
        platform = platform_name(_optional_json(archive, members, _member_name(config)))
        images.append(ArchiveImage(image_id, tags, platforms=((platform, image_id),) if platform else ()))
    return images


def _optional_json(archive: tarfile.TarFile, members: dict, name: str) -> Any:
    """A metadata file read only to describe the image (its platform): None when it is not JSON."""
    try:
        return _read_json(archive, members, name)
    except InvalidArchive:
        return None


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
            platforms = _index_platforms(_optional_json(archive, members, blob))
            carried = tuple(pair for pair in platforms if _holds_content(archive, members, pair[1]))
        elif media_type in _MANIFEST_MEDIA_TYPES:
            manifest = _read_json(archive, members, blob)
            layers = [_blob_path(layer.get("digest")) for layer in manifest.get("layers") or []]
            image_id = manifest["config"]["digest"]
            _require(members, [_blob_path(image_id)] + layers)
            # An export of one platform names it in index.json; else the config says.
            platform = platform_name(descriptor.get("platform")) or platform_name(
                _optional_json(archive, members, _blob_path(image_id)))
            platforms = ((platform, descriptor["digest"]),) if platform else ()
            carried = ()
        else:
            raise InvalidArchive("index.json in the archive refers to {0!r}, which is not an image".format(media_type))
        tag = _tag_from_annotations(descriptor.get("annotations") or {})
        images.append(ArchiveImage(image_id, (tag,) if tag else (), descriptor["digest"], platforms, carried))
    return images


def _index_platforms(index: Any) -> tuple:
    """(platform, manifest digest) of each image manifest of a multi-platform image's index; their content need
    not be in the archive (an image store keeps the platforms it pulled)."""
    platforms = []
    for descriptor in (index.get("manifests") or []) if isinstance(index, dict) else []:
        platform = platform_name(descriptor.get("platform")) if isinstance(descriptor, dict) else None
        if platform and descriptor.get("mediaType") in _MANIFEST_MEDIA_TYPES and descriptor.get("digest"):
            platforms.append((platform, descriptor["digest"]))
    return tuple(platforms)


def _holds_content(archive: tarfile.TarFile, members: dict, manifest_digest: str) -> bool:
    """Whether the archive holds a platform's manifest, config and layers: an export of a multi-platform image
    names every platform of the index but carries only those whose content the image store had."""
    try:
        manifest = _read_json(archive, members, _blob_path(manifest_digest))
        blobs = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest.get("layers") or []]
        return all(_blob_path(blob) in members for blob in blobs)
    except (InvalidArchive, KeyError, TypeError, AttributeError):
        return False


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
    targets: dict[str, Optional[str]] = {}
    platforms: dict[str, set] = {}
    carried: dict[str, set] = {}
    for image in images:
        tags.setdefault(image.id, set()).update(image.tags)
        targets[image.id] = targets.get(image.id) or image.target
        platforms.setdefault(image.id, set()).update(image.platforms)
        carried.setdefault(image.id, set()).update(image.carried)
    return [ArchiveImage(image_id, tuple(sorted(tags[image_id])), targets[image_id], tuple(sorted(platforms[image_id])),
                         tuple(sorted(carried[image_id])))
            for image_id in sorted(tags)]
