# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Build contexts: which files are sent (.dockerignore), their digest, and the tar stream.

The tar is generated on the fly, one bounded chunk at a time, so neither the
context nor a copy of it is ever held in memory or written to disk.  The digest
covers what determines a build (path, type, permission bits and content of each
file that is sent, plus the caller's other inputs) and deliberately not mtimes,
so touching a file does not count as a change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._dockerignore import (
    DOCKERIGNORE,
    DockerIgnore,
    read_small_file,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._files import file_digest

DIGEST_LABEL = "moby.engine.build.digest"
DEFAULT_DOCKERFILE = "Dockerfile"
CHUNK_SIZE = 1024 * 1024
BLOCK_SIZE = tarfile.BLOCKSIZE
_READ_SIZE = 256 * 1024
DOCKERFILE_MAX_SIZE = 16 * 1024 * 1024


# -- context walk ------------------------------------------------------------


@dataclass(frozen=True)
class ContextEntry:
    """One file, directory or symlink sent in the context."""

    name: str      # slash path inside the tar
    source: str    # absolute path on disk
    kind: str      # "dir", "file" or "symlink"
    mode: int      # permission bits
    mtime: int
    size: int = 0
    linkname: str = ""


def _entry(name: str, source: str, info: os.stat_result) -> Optional[ContextEntry]:
    if stat.S_ISDIR(info.st_mode):
        kind = "dir"
    elif stat.S_ISREG(info.st_mode):
        kind = "file"
    elif stat.S_ISLNK(info.st_mode):
        return ContextEntry(name, source, "symlink", stat.S_IMODE(info.st_mode), int(info.st_mtime),
                            linkname=os.readlink(source))
    else:
        return None  # sockets, FIFOs and devices are not sent
    return ContextEntry(name, source, kind, stat.S_IMODE(info.st_mode), int(info.st_mtime),
                        size=info.st_size if kind == "file" else 0)


class BuildContext:
    """A local build context directory and the Dockerfile to send with it."""

    def __init__(self, root: str, dockerfile: str | None = None) -> None:
        root = os.path.abspath(root)
        if not os.path.isdir(root):
            raise InvalidInput("the build context {0} does not exist or is not a directory".format(root))
        self.root = root
        self.ignore = DockerIgnore.from_directory(root)
        self.sent_bytes = 0
        self.external_dockerfile: Optional[str] = None
        path = dockerfile or DEFAULT_DOCKERFILE
        source = path if os.path.isabs(path) else os.path.join(root, path)
        source = os.path.normpath(source)
        if not os.path.isfile(source):
            raise InvalidInput("the Dockerfile {0} does not exist or is not a file".format(source))
        inside = os.path.relpath(source, root)
        if inside.startswith(".." + os.sep) or inside == "..":
            # Like the docker CLI, a Dockerfile outside the context is added to the upload under
            # a hidden name; ours is derived from its content so unchanged inputs stay unchanged.
            self.external_dockerfile = source
            self.dockerfile_name = ".dockerfile." + file_digest(source).split(":", 1)[1][:16]
        else:
            self.dockerfile_name = inside.replace(os.sep, "/")
        self.dockerfile_source = source
        # The Dockerfile and .dockerignore are always sent, whatever .dockerignore says.
        self._always_sent = {self.dockerfile_name, DOCKERIGNORE}

    def dockerfile_text(self) -> str:
        try:
            # Symlinks are followed as the docker CLI does; a FIFO, device or huge file is refused.
            data = read_small_file(self.dockerfile_source, DOCKERFILE_MAX_SIZE, "the Dockerfile")
        except FileNotFoundError:
            raise InvalidInput("the Dockerfile {0} does not exist or is not a file".format(self.dockerfile_source))
        return data.decode("utf-8", "replace")

    def entries(self) -> Iterator[ContextEntry]:
        """The entries sent, in a stable (sorted) order."""
        yield from self._walk(self.root, "")
        if self.external_dockerfile:
            info = os.stat(self.external_dockerfile)
            entry = _entry(self.dockerfile_name, self.external_dockerfile, info)
            if entry is not None:
                yield entry

    def _walk(self, directory: str, prefix: str) -> Iterator[ContextEntry]:
        try:
            with os.scandir(directory) as scan:
                children = sorted(scan, key=lambda child: child.name)
        except OSError as exc:
            raise InvalidInput("cannot read directory {0} of the build context: {1}".format(
                directory, exc.strerror or exc))
        for child in children:
            name = prefix + child.name
            try:
                info = child.stat(follow_symlinks=False)
            except OSError as exc:
                raise InvalidInput("cannot read {0} in the build context: {1}".format(child.path, exc.strerror))
            excluded = name not in self._always_sent and self.ignore.excludes(name)
            entry = None if excluded else _entry(name, child.path, info)
            if entry is not None:
                yield entry
            if stat.S_ISDIR(info.st_mode) and (not excluded or self._may_reinclude(name)):
                yield from self._walk(child.path, name + "/")

    def _may_reinclude(self, directory: str) -> bool:
        """Whether anything under an excluded directory can still be sent (so it must be walked)."""
        if self.ignore.may_reinclude_under(directory):
            return True
        return any(path.startswith(directory + "/") for path in self._always_sent)

    # -- digest -------------------------------------------------------------

    def digest(self, inputs: Mapping[str, Any]) -> str:
        """sha256 over the sent entries (path, type, mode, content) and the other build inputs."""
        hasher = hashlib.sha256()
        hasher.update(json.dumps(dict(inputs, dockerfile=self.dockerfile_name), sort_keys=True).encode("utf-8"))
        for entry in self.entries():
            if entry.kind == "file":
                content = file_digest(entry.source)
            elif entry.kind == "symlink":
                content = entry.linkname
            else:
                content = ""
            record = "\0".join((entry.kind, entry.name, oct(entry.mode), content))
            hasher.update(record.encode("utf-8", "surrogateescape") + b"\n")
        return "sha256:" + hasher.hexdigest()

    # -- tar stream -----------------------------------------------------------

    def tar_stream(self) -> Iterator[bytes]:
        """The context as an uncompressed tar, in chunks of about CHUNK_SIZE bytes."""
        self.sent_bytes = 0
        buffer = bytearray()
        for entry in self.entries():
            buffer += _tar_header(entry)
            if entry.kind == "file":
                for piece in _file_pieces(entry):
                    buffer += piece
                    if len(buffer) >= CHUNK_SIZE:
                        yield self._flush(buffer)
                buffer += b"\0" * (-entry.size % BLOCK_SIZE)
            if len(buffer) >= CHUNK_SIZE:
                yield self._flush(buffer)
        buffer += b"\0" * (2 * BLOCK_SIZE)
        yield self._flush(buffer)

    def _flush(self, buffer: bytearray) -> bytes:
        chunk = bytes(buffer)
        del buffer[:]
        self.sent_bytes += len(chunk)
        return chunk


def _tar_header(entry: ContextEntry) -> bytes:
    info = tarfile.TarInfo(entry.name + ("/" if entry.kind == "dir" else ""))
    info.mode = entry.mode
    info.mtime = entry.mtime
    # Owned by root, as the docker CLI sends contexts: the image must not depend on who runs the task.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.linkname
    else:
        info.size = entry.size
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


def _file_pieces(entry: ContextEntry) -> Iterator[bytes]:
    """Exactly ``entry.size`` bytes of the file, read in bounded pieces."""
    remaining = entry.size
    try:
        with open(entry.source, "rb") as handle:
            while remaining > 0:
                piece = handle.read(min(_READ_SIZE, remaining))
                if not piece:
                    raise InvalidInput("{0} shrank while the build context was being sent; "
                                       "do not change the context during a build".format(entry.source))
                remaining -= len(piece)
                yield piece
    except OSError as exc:
        # Raised inside the request body: must not look like a connection error to the client.
        raise InvalidInput("cannot read {0} of the build context: {1}".format(entry.source, exc.strerror or exc))


# -- Dockerfile ---------------------------------------------------------------

_VARIABLE_RE = re.compile(r"\$(?:\{(\w+)(?::([-+])([^}]*))?\}|(\w+))")


def _expand(word: str, variables: Mapping[str, str]) -> str:
    def replace(match: "re.Match[str]") -> str:
        name = match.group(1) or match.group(4)
        value = variables.get(name, "")
        if match.group(2) == "-":
            return value or match.group(3)
        if match.group(2) == "+":
            return match.group(3) if value else ""
        return value
    return _VARIABLE_RE.sub(replace, word)


def _logical_lines(text: str) -> Iterator[str]:
    escape = "\\"
    directive = re.match(r"^\s*#\s*escape\s*=\s*([\\`])\s*$", text.split("\n", 1)[0], re.IGNORECASE)
    if directive:
        escape = directive.group(1)
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith(escape):
            current += stripped[:-1] + " "
            continue
        yield current + stripped
        current = ""
    if current:
        yield current


def base_images(dockerfile: str, build_args: Mapping[str, str]) -> list[str]:
    """Images named by FROM (with ARG defaults and build args expanded), without stages and scratch."""
    variables: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False
    for line in _logical_lines(dockerfile):
        words = line.split()
        if not words:
            continue
        instruction = words[0].upper()
        if instruction == "ARG" and not seen_from:
            for word in words[1:]:
                name, has_default, default = word.partition("=")
                if name in build_args:
                    variables[name] = str(build_args[name])
                elif has_default:
                    variables[name] = default.strip("\"'")
        elif instruction == "FROM":
            seen_from = True
            rest = [word for word in words[1:] if not word.startswith("--")]
            if not rest:
                continue
            image = _expand(rest[0], variables)
            if image and image.lower() not in stages and image != "scratch" and image not in images:
                images.append(image)
            if len(rest) >= 3 and rest[1].upper() == "AS":
                stages.add(rest[2].lower())
    return images
