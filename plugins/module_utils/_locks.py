# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Serialising tasks on one managed host that would race for the same engine object.

Ten forks building the same image at once would each find it missing and each build it, leaving
nine dangling copies. Holding a lock around "decide, then act" makes the later forks find the
first fork's result instead. The lock is an advisory ``flock`` on a file in the temporary
directory, released by the kernel even when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from ansible_collections.moby.engine.plugins.module_utils._errors import MobyEngineError


@contextmanager
def host_lock(*key: str) -> Iterator[None]:
    """Hold an exclusive lock named by ``key`` (for example the engine address and an image name)."""
    digest = hashlib.sha256("\0".join(key).encode("utf-8")).hexdigest()[:32]
    path = os.path.join(tempfile.gettempdir(), "moby.engine-{0}.lock".format(digest))
    try:
        # O_NOFOLLOW: a symlink planted in a shared temporary directory must not be followed.
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise MobyEngineError("cannot open the lock file {0}: {1}; check the permissions of {2}".format(
            path, exc.strerror or exc, tempfile.gettempdir()))
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
