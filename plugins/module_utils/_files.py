# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Files on the managed host: written whole or not at all, hashed in chunks, and sizes as the CLI spells them."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import re
import signal
import stat
import tempfile
import threading
from typing import IO, Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import Interrupted, InvalidInput, MobyEngineError

HASH_CHUNK_SIZE = 1024 * 1024
# DiskWriter's unit of direct writes: a whole number of pages and of any disk's logical block (512 B to 4 KiB).
DIRECT_BLOCK_SIZE = 4 * 1024 * 1024
DIRECT_ALIGNMENT = 4096
# Where direct writes are refused, the kernel is asked to start the writeback after each this many bytes.
WRITEBACK_INTERVAL = 64 * 1024 * 1024
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}


class FileWriteError(MobyEngineError):
    """The destination file could not be written."""


class UnreadableFile(InvalidInput):
    """A path that cannot be read as a regular file; ``reason`` says why without repeating the path."""

    def __init__(self, message: str, path: str, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


def _not_a_file(path: str, reason: str) -> UnreadableFile:
    return UnreadableFile("{0} is not a file on the managed host: {1}".format(path, reason), path, reason)


def check_path(path: str) -> None:
    """Refuse a path no file can have, before the os module raises a bare ValueError for it."""
    if "\0" in path:
        raise InvalidInput("{0!r} contains a NUL byte, which no file name can hold".format(path))


def file_kind(mode: int) -> str:
    """What a file of this st_mode is, in words, for messages that refuse anything but a regular file."""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def existing_file(path: str) -> Optional[os.stat_result]:
    """lstat of the regular file at path, None when there is nothing there; InvalidInput for anything else.

    Used before replacing path: renaming over a FIFO, a device or a link would replace that object
    (as root, even /dev/null), which is never what writing an archive means.
    """
    check_path(path)
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInput("cannot examine {0}: {1}".format(path, exc.strerror or exc))
    if not stat.S_ISREG(status.st_mode):
        raise InvalidInput("{0} is {1}, not a regular file; it is left alone".format(path, file_kind(status.st_mode)))
    return status


def open_regular(path: str, follow_symlinks: bool = True) -> IO[bytes]:
    """Open a regular file for reading; InvalidInput for anything else, without blocking or reading it.

    A plain open() of a FIFO waits for a writer forever, and reading /dev/zero never ends: the type
    is checked before opening, and again on the open descriptor (O_NONBLOCK, so that opening a FIFO
    swapped in meanwhile returns at once) in case path changed in between.
    """
    check_path(path)
    try:
        _require_regular(path, os.stat(path) if follow_symlinks else os.lstat(path))
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow_symlinks else os.O_NOFOLLOW)
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise _not_a_file(path, "it does not exist")
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise _not_a_file(path, "it is a symbolic link")
        reason = exc.strerror or str(exc)
        raise UnreadableFile("cannot read {0}: {1}".format(path, reason), path, reason)
    try:
        _require_regular(path, os.fstat(descriptor))
        os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def _require_regular(path: str, status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise _not_a_file(path, "it is {0}, not a regular file".format(file_kind(status.st_mode)))


class AtomicFile:
    """A file written under a temporary name next to ``path`` and renamed over it by ``commit()``.

    Leaving the ``with`` block without commit() (an engine error, a broken connection, a full
    disk) deletes the temporary file, so ``path`` is either the old file or the complete new one.
    The new file keeps the old one's mode and (where the user may give it) owner and group.
    Anything at ``path`` but a regular file (a FIFO, a device, a symbolic link, a directory) is refused.
    """

    def __init__(self, path: str) -> None:
        check_path(path)
        self.path = path
        self.temp_path = ""
        self.file: DiskWriter
        self._committed = False
        self._previous_sigterm: Any = None

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        # Python's default for SIGTERM exits without unwinding, which would leave the temporary
        # file behind; raising instead runs __exit__, and main() reports the interruption.
        raise Interrupted("interrupted by SIGTERM before the new {0} was complete".format(self.path))

    def __enter__(self) -> "AtomicFile":
        existing_file(self.path)
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            descriptor, self.temp_path = tempfile.mkstemp(
                dir=directory, prefix=".{0}.".format(os.path.basename(self.path)), suffix=".part")
        except OSError as exc:
            raise FileWriteError("cannot create a file in {0}: {1}".format(directory, exc.strerror or exc))
        self.file = DiskWriter(descriptor)
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        return self

    def commit(self) -> None:
        # Checked again just before the rename: the path may have changed since __enter__.
        old = existing_file(self.path)
        try:
            self.file.flush()
            descriptor = self.file.fileno()
            if old is not None:
                _copy_owner(descriptor, old)
            # After the chown, which clears set-id bits.
            os.fchmod(descriptor, _mode_for(old))
            os.fsync(descriptor)
            self.file.close()
            os.replace(self.temp_path, self.path)
        except OSError as exc:
            raise FileWriteError("cannot write {0}: {1}".format(self.path, exc.strerror or exc))
        self._committed = True
        # The rename is durable only once the directory is on disk too; until then a crash can bring back the old file
        # (or none, for a new one).
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            _fsync_directory(directory)
        except OSError as exc:
            raise FileWriteError("{0} was replaced, but syncing its directory {1} to disk failed: {2}".format(
                self.path, directory, exc.strerror or exc))

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        if self._committed:
            return
        # The file is deleted, so what is still buffered is not written (on a full disk it would fail again).
        for cleanup in (self.file.discard, lambda: os.unlink(self.temp_path)):
            try:
                cleanup()
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, MobyEngineError):
            # Writing the data failed (a full disk, a quota): say which file, keep the cause.
            raise FileWriteError("cannot write {0}: {1}".format(self.path, exc.strerror or exc)) from exc


class DiskWriter:
    """The writer of AtomicFile's new file: the bytes go to the disk as they come (O_DIRECT), not into the page cache.

    Why: filling the page cache with an archive cost more system time than receiving it, and the time varied by
    run (1 GiB: 0.8 to 3 s of system time for docker save -o on the 2-core machine of issue 16, against 0.3 s
    written direct). Direct writes need an aligned buffer, offset and length, so the bytes are gathered in a
    page-aligned DIRECT_BLOCK_SIZE buffer; flush() writes its unaligned tail without O_DIRECT. A file system or
    platform that refuses O_DIRECT (tmpfs, some FUSE and network file systems, macOS) gets plain writes, with
    the writeback started along the way so that the fsync at commit has little left to write.
    """

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor
        self.direct = _set_direct(descriptor, True)
        self._buffer = mmap.mmap(-1, DIRECT_BLOCK_SIZE) if self.direct else None
        self._filled = 0
        self._unsynced = 0

    def fileno(self) -> int:
        return self.descriptor

    def write(self, data: bytes) -> int:
        if self._buffer is None:
            self._write_through(memoryview(data))
            return len(data)
        pending = memoryview(data)
        while pending:
            taken = min(len(pending), DIRECT_BLOCK_SIZE - self._filled)
            self._buffer[self._filled:self._filled + taken] = pending[:taken]
            self._filled += taken
            pending = pending[taken:]
            if self._filled == DIRECT_BLOCK_SIZE:
                self._write_block(DIRECT_BLOCK_SIZE)
        return len(data)

    def flush(self) -> None:
        """Write everything buffered. The file's end is seldom aligned, so later writes go without O_DIRECT."""
        if self._buffer is None:
            return
        filled = self._filled
        aligned = filled - filled % DIRECT_ALIGNMENT
        if aligned:
            self._write_block(aligned)
        tail = self._buffer[aligned:filled]
        self._buffer = None
        self._stop_direct()
        _write_all(self.descriptor, memoryview(tail))

    def close(self) -> None:
        if self.descriptor < 0:
            return
        try:
            self.flush()
        finally:
            # Closed once only: a descriptor number closed twice may by then belong to another file.
            descriptor, self.descriptor = self.descriptor, -1
            os.close(descriptor)

    def discard(self) -> None:
        """Close without writing what is buffered: the file is about to be deleted."""
        self._buffer = None
        self.close()

    def _write_block(self, length: int) -> None:
        block = memoryview(self._buffer)[:length]
        try:
            _write_all(self.descriptor, block)
        except OSError as exc:
            # Some file systems take the flag and refuse the write; a refused direct write wrote nothing.
            if exc.errno != errno.EINVAL or not self.direct:
                raise
            self._stop_direct()
            _write_all(self.descriptor, block)
        self._filled = 0

    def _stop_direct(self) -> None:
        if self.direct:
            _set_direct(self.descriptor, False)
            self.direct = False

    def _write_through(self, data: memoryview) -> None:
        _write_all(self.descriptor, data)
        self._unsynced += len(data)
        if self._unsynced >= WRITEBACK_INTERVAL:
            _start_writeback(self.descriptor, self._unsynced)
            self._unsynced = 0


def _set_direct(descriptor: int, direct: bool) -> bool:
    """Turn O_DIRECT on or off for an open file; False where the platform or the file system has no such mode."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    flags = fcntl.fcntl(descriptor, fcntl.F_GETFL)
    try:
        fcntl.fcntl(descriptor, fcntl.F_SETFL, flags | flag if direct else flags & ~flag)
    except OSError:
        if direct:
            return False
        raise
    return direct


def _write_all(descriptor: int, data: memoryview) -> None:
    # A regular file writes short only when it cannot take more (a full disk): the next write says why.
    while data:
        data = data[os.write(descriptor, data):]


def _start_writeback(descriptor: int, length: int) -> None:
    """Ask the kernel to start writing the last ``length`` bytes written to disk, not waiting for it.

    posix_fadvise(DONTNEED) starts the writeback of dirty pages and drops only pages already clean, which the
    pages just written mostly are not. Best effort: without posix_fadvise, the fsync at commit does it all.
    """
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is None:
        return
    try:
        end = os.lseek(descriptor, 0, os.SEEK_CUR)
        fadvise(descriptor, max(end - length, 0), length, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass


def _mode_for(old: Optional[os.stat_result]) -> int:
    """Keep the permissions of the file being replaced; a new file gets the default under the umask."""
    if old is not None:
        return stat.S_IMODE(old.st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _copy_owner(descriptor: int, old: os.stat_result) -> None:
    """Give the new file the old one's owner and group, as far as this user may."""
    for uid in (old.st_uid, -1):
        try:
            os.fchown(descriptor, uid, old.st_gid)
            return
        except PermissionError:
            # Not root: giving a file away is not allowed, but a group of one's own is; failing both, the
            # file stays the user's, as with any file the user writes.
            continue


def _fsync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    except OSError as exc:
        # Some file systems cannot sync a directory at all; they have nothing more to write.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(descriptor)


def file_digest(path: str) -> str:
    """``sha256:<hex>`` of a regular file's content, read in chunks."""
    digest = hashlib.sha256()
    try:
        with open_regular(path) as source:
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
