# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Serialising tasks on one managed host that would race for the same engine object.

Ten forks building the same image at once would each find it missing and each build it, leaving
nine dangling copies. Holding a lock around "decide, then act" makes the later forks find the
first fork's result instead. The lock is an advisory ``flock`` on a file in a directory that only
the user running the module can write (so another local user can neither hold nor plant it),
released by the kernel even when the process dies, and waited for no longer than the task's timeout.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ansible_collections.moby.engine.plugins.module_utils._errors import MobyEngineError

_POLL_SECONDS = 0.1


def lock_directory() -> str:
    """This user's own lock directory, made 0700 on first use and refused when anyone else could write it."""
    path = os.path.join(tempfile.gettempdir(), "moby.engine-{0}".format(os.getuid()))
    while True:
        try:
            os.mkdir(path, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise MobyEngineError("cannot create the lock directory {0}: {1}".format(path, exc.strerror or exc))
        try:
            info = os.lstat(path)
            break
        except FileNotFoundError:
            continue  # a holder releasing the last lock removed it between mkdir and lstat: make it again
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise MobyEngineError(
            "the lock directory {0} is not a directory that only uid {1} can write (owner uid {2}, mode {3:o}); "
            "another user may have made it: remove it and rerun".format(
                path, os.getuid(), info.st_uid, stat.S_IMODE(info.st_mode)))
    return path


@contextmanager
def host_lock(*key: str, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock named by ``key`` (for example the engine address and an image name).

    Waits at most ``timeout`` seconds for another task holding it, then fails naming that task's process.
    The lock file (and the directory, once empty) is removed on release, so nothing stays behind.
    """
    digest = hashlib.sha256("\0".join(key).encode("utf-8")).hexdigest()[:32]
    deadline = time.monotonic() + timeout
    while True:
        path = os.path.join(lock_directory(), "{0}.lock".format(digest))
        descriptor = _open(path)
        if descriptor is not None:
            try:
                _acquire(descriptor, path, " ".join(key), deadline, timeout)
                # A holder that released unlinks the file: a lock on an unlinked file excludes no one, so retry.
                if _still_linked(descriptor, path):
                    break
            except BaseException:
                os.close(descriptor)
                raise
            os.close(descriptor)
    try:
        # Who holds it, for the message of a task that gives up waiting.
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        _release(descriptor, path)


def _open(path: str) -> int | None:
    try:
        # O_NOFOLLOW: a symlink in the lock directory must not be followed.
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except FileNotFoundError:
        return None  # the directory was removed by a holder releasing the last lock: make it again
    except OSError as exc:
        raise MobyEngineError("cannot open the lock file {0}: {1}".format(path, exc.strerror or exc))


def _still_linked(descriptor: int, path: str) -> bool:
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        return False


def _release(descriptor: int, path: str) -> None:
    # Unlink while still holding the lock, so that a waiter that gets it next sees the file is gone and retries.
    try:
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass  # another lock of the directory is held or waited for: it stays until that one is released
    finally:
        os.close(descriptor)


def _acquire(descriptor: int, path: str, what: str, deadline: float, timeout: float) -> None:
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise MobyEngineError("cannot lock {0}: {1}".format(path, exc.strerror or exc))
        if time.monotonic() >= deadline:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise MobyEngineError(
                "another task (process {0}) has been working on {1} for longer than the timeout ({2} s); the lock "
                "is {3}. Wait for it to finish, or raise timeout".format(holder, what, timeout, path))
        time.sleep(_POLL_SECONDS)
