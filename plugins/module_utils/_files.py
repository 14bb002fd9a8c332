# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Files on the managed host: written whole or not at all, hashed in chunks, and sizes as the CLI spells them."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import stat
import tempfile
import threading
from typing import IO, Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import Interrupted, InvalidInput, MobyEngineError

HASH_CHUNK_SIZE = 1024 * 1024
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}


class FileWriteError(MobyEngineError):
    """The destination file could not be written."""


class AtomicFile:
    """A file written under a temporary name next to ``path`` and renamed over it by ``commit()``.

    Leaving the ``with`` block without commit() (an engine error, a broken connection, a full
    disk) deletes the temporary file, so ``path`` is either the old file or the complete new one.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.temp_path = ""
        self.file: IO[bytes]
        self._committed = False
        self._previous_sigterm: Any = None

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        # Python's default for SIGTERM exits without unwinding, which would leave the temporary
        # file behind; raising instead runs __exit__, and main() reports the interruption.
        raise Interrupted("interrupted by SIGTERM before the new {0} was complete".format(self.path))

    def __enter__(self) -> "AtomicFile":
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            descriptor, self.temp_path = tempfile.mkstemp(
                dir=directory, prefix=".{0}.".format(os.path.basename(self.path)), suffix=".part")
        except OSError as exc:
            raise FileWriteError("cannot create a file in {0}: {1}".format(directory, exc.strerror or exc))
        self.file = os.fdopen(descriptor, "wb")
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        return self

    def commit(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.chmod(self.temp_path, _mode_for(self.path))
            os.replace(self.temp_path, self.path)
        except OSError as exc:
            raise FileWriteError("cannot write {0}: {1}".format(self.path, exc.strerror or exc))
        self._committed = True

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        if self._committed:
            return
        # Closing flushes buffered data, which fails again on a full disk; the file is deleted either way.
        for cleanup in (self.file.close, lambda: os.unlink(self.temp_path)):
            try:
                cleanup()
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, MobyEngineError):
            # Writing the data failed (a full disk, a quota): say which file, keep the cause.
            raise FileWriteError("cannot write {0}: {1}".format(self.path, exc.strerror or exc)) from exc


def _mode_for(path: str) -> int:
    """Keep the permissions of the file being replaced; a new file gets the default under the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def file_digest(path: str) -> str:
    """``sha256:<hex>`` of a file's content, read in chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as source:
            for chunk in iter(lambda: source.read(HASH_CHUNK_SIZE), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InvalidInput("cannot read {0}: {1}".format(path, exc.strerror or exc))
    return "sha256:" + digest.hexdigest()


def parse_size(value: Any, option: str) -> Optional[int]:
    """Bytes from an integer or a string like ``512m`` / ``2g`` (binary units, as the docker CLI)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInput("{0} must be a size such as 536870912, 512m or 2g, got {1!r}".format(option, value))
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(str(value).strip())
    if not match:
        raise InvalidInput("{0} must be a size such as 536870912, 512m or 2g, got {1!r}".format(option, value))
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
