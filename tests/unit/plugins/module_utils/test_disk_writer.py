# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""DiskWriter: AtomicFile's new file goes to the disk in aligned direct writes, and in plain writes where the
file system refuses them, the bytes the same either way."""

from __future__ import annotations

import errno
import fcntl
import os

import pytest

from ansible_collections.moby.engine.plugins.module_utils import _files
from ansible_collections.moby.engine.plugins.module_utils._files import AtomicFile, DiskWriter, FileWriteError

# Odd sizes, so that chunks straddle the blocks and the file ends off the alignment.
CHUNKS = [os.urandom(size) for size in (1, 4095, 8192, 3, 12289, 70000, 17)]


@pytest.fixture
def small_blocks(monkeypatch):
    # Two pages per block keeps the files small and still makes several blocks.
    monkeypatch.setattr(_files, "DIRECT_BLOCK_SIZE", 2 * _files.DIRECT_ALIGNMENT)


@pytest.fixture
def writes(monkeypatch):
    """Every os.write, as (O_DIRECT set on the descriptor, length)."""
    seen = []
    real_write = os.write

    def record(descriptor, data):
        seen.append((bool(fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_DIRECT), len(data)))
        return real_write(descriptor, data)

    monkeypatch.setattr(_files.os, "write", record)
    return seen


def takes_direct_writes(directory):
    probe = os.path.join(str(directory), "probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600))
    except OSError:
        return False
    os.unlink(probe)
    return True


def write_archive(path):
    with AtomicFile(str(path)) as target:
        for chunk in CHUNKS:
            assert target.file.write(chunk) == len(chunk)
        target.commit()
        return target.file


def test_the_file_goes_out_in_whole_aligned_blocks_then_its_tail(tmp_path, small_blocks, writes):
    writer = write_archive(tmp_path / "out.tar")
    assert (tmp_path / "out.tar").read_bytes() == b"".join(CHUNKS)
    total = sum(len(chunk) for chunk in CHUNKS)
    if not takes_direct_writes(tmp_path):
        # This directory's file system refuses O_DIRECT: every chunk went out as it came.
        assert writes == [(False, len(chunk)) for chunk in CHUNKS] and not writer.direct
        return
    block = 2 * _files.DIRECT_ALIGNMENT
    tail = total % block
    aligned_tail = tail - tail % _files.DIRECT_ALIGNMENT
    expected = [(True, block)] * (total // block) + [(True, aligned_tail), (False, tail - aligned_tail)]
    assert writes == expected


def test_a_file_system_without_direct_writes_gets_plain_writes_and_early_writeback(tmp_path, monkeypatch, writes):
    real_fcntl = fcntl.fcntl

    def refuse_direct_mode(descriptor, command, *args):
        if command == fcntl.F_SETFL and args[0] & os.O_DIRECT:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_fcntl(descriptor, command, *args)

    advised = []
    monkeypatch.setattr(_files.fcntl, "fcntl", refuse_direct_mode)
    monkeypatch.setattr(_files, "WRITEBACK_INTERVAL", 10000)
    monkeypatch.setattr(_files.os, "posix_fadvise", lambda descriptor, offset, length, advice: advised.append(
        (offset, length, advice)), raising=False)
    writer = write_archive(tmp_path / "out.tar")
    assert not writer.direct
    assert (tmp_path / "out.tar").read_bytes() == b"".join(CHUNKS)
    assert writes == [(False, len(chunk)) for chunk in CHUNKS]
    # At the first chunk boundary past each 10000 bytes not yet advised; the last 17 bytes are left to the fsync.
    assert advised == [(0, 12288, os.POSIX_FADV_DONTNEED), (12288, 12292, os.POSIX_FADV_DONTNEED),
                       (24580, 70000, os.POSIX_FADV_DONTNEED)]


def test_a_refused_direct_write_is_written_again_plainly(tmp_path, small_blocks, monkeypatch):
    real_write = os.write
    refused = []

    def refuse_direct_write(descriptor, data):
        if fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_write(descriptor, data)

    monkeypatch.setattr(_files.os, "write", refuse_direct_write)
    writer = write_archive(tmp_path / "out.tar")
    assert (tmp_path / "out.tar").read_bytes() == b"".join(CHUNKS)
    assert not writer.direct
    assert refused == ([2 * _files.DIRECT_ALIGNMENT] if takes_direct_writes(tmp_path) else [])


def test_a_full_disk_during_a_direct_write_fails_and_leaves_nothing(tmp_path, small_blocks, monkeypatch):
    attempts = []

    def disk_full(descriptor, data):
        attempts.append(len(data))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    (tmp_path / "out.tar").write_bytes(b"old")
    with pytest.raises(FileWriteError, match="cannot write .*out.tar: No space left on device"):
        with AtomicFile(str(tmp_path / "out.tar")) as target:
            monkeypatch.setattr(_files.os, "write", disk_full)
            for chunk in CHUNKS:
                target.file.write(chunk)
            target.commit()
    assert os.listdir(str(tmp_path)) == ["out.tar"]
    assert (tmp_path / "out.tar").read_bytes() == b"old"
    # The first block's write failed; what was still buffered was dropped with the file, not written.
    assert attempts == [2 * _files.DIRECT_ALIGNMENT]


def test_writes_after_a_flush_continue_the_file(tmp_path, small_blocks):
    descriptor = os.open(str(tmp_path / "out.tar"), os.O_WRONLY | os.O_CREAT, 0o600)
    writer = DiskWriter(descriptor)
    writer.write(CHUNKS[2] + CHUNKS[0])
    writer.flush()
    writer.write(CHUNKS[4])
    writer.close()
    assert (tmp_path / "out.tar").read_bytes() == CHUNKS[2] + CHUNKS[0] + CHUNKS[4]


def test_a_second_close_leaves_alone_the_file_that_got_the_descriptor_number(tmp_path):
    writer = DiskWriter(os.open(str(tmp_path / "out.tar"), os.O_WRONLY | os.O_CREAT, 0o600))
    number = writer.fileno()
    writer.close()
    other = os.open(str(tmp_path / "other"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        assert other == number
        writer.close()
        os.fstat(other)
    finally:
        os.close(other)
