# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Hostile archives and paths (issue 13, items 6, 7, 17 and 19): tar metadata bombs, deeply nested JSON,
FIFOs, devices and links where a file is expected, NUL bytes in paths, and what replacing an archive keeps."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import signal
import stat
import tarfile
import tracemalloc
import zlib
from typing import Any, Iterator

import pytest

from ansible_collections.moby.engine.plugins.module_utils import _archives
from ansible_collections.moby.engine.plugins.module_utils._archives import ArchiveImage, InvalidArchive, read_archive
from ansible_collections.moby.engine.plugins.module_utils._common import Task
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._files import AtomicFile, UnreadableFile, file_digest, open_regular
from ansible_collections.moby.engine.plugins.modules import image_export, image_load
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import module_params

CONFIG_HEX = "b0cc389a3224bdb59a8fa9136055dbd5a2f9a23c7ff7b7ca09bcfe83d67da054"
IMAGE_ID = "sha256:" + CONFIG_HEX
BOMB_SIZE = 512 * 1024 * 1024
PEAK_LIMIT = 32 * 1024 * 1024


# -- building archives -----------------------------------------------------


def classic_files(tags: tuple = ("moby-test/busybox:latest",), manifest: Any = None) -> list:
    if manifest is None:
        manifest = json.dumps([{"Config": CONFIG_HEX + ".json", "RepoTags": list(tags), "Layers": ["abc/layer.tar"]}])
    return [(CONFIG_HEX + ".json", b"{}"), ("abc/layer.tar", b"L" * 3000), ("manifest.json", manifest.encode())]


def tar_bytes(files: list, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """files: (name, data) or (TarInfo, data) in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, data in files:
            info = name if isinstance(name, tarfile.TarInfo) else tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def header(name: str, size: int, kind: bytes) -> bytes:
    """One raw ustar header block of the given type claiming size bytes of data."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = 0
    block = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    block[124:136] = "{0:011o}\0".format(size).encode()
    block[148:156] = b"        "
    block[148:156] = "{0:06o}\0 ".format(sum(block)).encode()
    return bytes(block)


def pax_record(key: str, value: str) -> bytes:
    body = " {0}={1}\n".format(key, value).encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def write_gzip_bomb(path: str, kind: bytes, size: int) -> None:
    """A gzip of a tar starting with a `kind` header that claims, and has, size bytes: 512 MiB make ~510 KiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    with open(path, "wb") as target:
        target.write(compressor.compress(header("././@PaxHeader", size, kind)))
        for _chunk in range(size // len(zeros)):
            target.write(compressor.compress(zeros))
        target.write(compressor.compress(bytes(1024)))
        target.write(compressor.flush())


@contextlib.contextmanager
def deadline(seconds: int = 10) -> Iterator[None]:
    """Turn a hang (a FIFO opened for reading) into a failure instead of a stuck test run."""
    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("still blocked after {0} seconds".format(seconds))
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def peak_memory_of(function: Any, *args: Any) -> tuple:
    """(the exception function raised, peak of traced allocations meanwhile)."""
    tracemalloc.start()
    try:
        try:
            function(*args)
        except Exception as exc:  # pylint: disable=broad-except
            raised = exc
        else:
            raised = None
        return raised, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def pax_bomb(tmp_path_factory: Any) -> str:
    path = str(tmp_path_factory.mktemp("bomb") / "bomb.tar.gz")
    write_gzip_bomb(path, tarfile.XHDTYPE, BOMB_SIZE)
    return path


# -- item 6: tar metadata bombs ------------------------------------------------


def test_gzip_pax_bomb_is_refused_before_it_is_read(pax_bomb):
    assert os.path.getsize(pax_bomb) < 1024 * 1024
    raised, peak = peak_memory_of(read_archive, pax_bomb)
    assert isinstance(raised, InvalidArchive), raised
    assert pax_bomb in str(raised)
    assert "PAX extended header of member" in str(raised) and "claims 536870912 bytes" in str(raised)
    assert peak < PEAK_LIMIT, "peak {0} bytes".format(peak)


def test_plain_tar_pax_bomb_is_refused(tmp_path):
    # A sparse file: 512 MiB long, a few KiB on disk.
    path = str(tmp_path / "bomb.tar")
    with open(path, "wb") as target:
        target.write(header("././@PaxHeader", BOMB_SIZE, tarfile.XHDTYPE))
        target.truncate(512 + BOMB_SIZE + 1024)
    raised, peak = peak_memory_of(read_archive, path)
    assert isinstance(raised, InvalidArchive), raised
    assert "claims 536870912 bytes" in str(raised)
    assert peak < PEAK_LIMIT, "peak {0} bytes".format(peak)


@pytest.mark.parametrize("kind, words", [(tarfile.GNUTYPE_LONGNAME, "GNU long name"),
                                         (tarfile.GNUTYPE_LONGLINK, "GNU long name"),
                                         (tarfile.XGLTYPE, "PAX global")])
def test_other_oversized_headers_are_refused(tmp_path, kind, words):
    path = str(tmp_path / "bomb.tar.gz")
    write_gzip_bomb(path, kind, 4 * 1024 * 1024)
    with pytest.raises(InvalidArchive, match="{0} header of member .* claims 4194304 bytes".format(words)):
        read_archive(path)


def test_ordinary_extended_headers_still_read(tmp_path):
    long_name = "sub/" + "d" * 150 + "/layer.tar"
    manifest = json.dumps([{"Config": CONFIG_HEX + ".json", "RepoTags": ["app:1"], "Layers": [long_name]}])
    files = [(CONFIG_HEX + ".json", b"{}"), (long_name, b"L" * 100), ("manifest.json", manifest.encode())]
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        path = tmp_path / "a.tar.gz"
        path.write_bytes(gzip.compress(tar_bytes(files, fmt)))
        assert read_archive(str(path)) == [ArchiveImage(IMAGE_ID, ("app:1",))]


def test_chain_of_extended_headers_is_refused(tmp_path):
    # Each header is small; tarfile follows the chain by recursion, keeping every header's data.
    chain = b"".join(header("././@PaxHeader", len(record), tarfile.XHDTYPE) + padded(record)
                     for record in [pax_record("comment", "x" * 100)] * 5000)
    data = tar_bytes(classic_files())
    path = tmp_path / "chain.tar"
    path.write_bytes(chain + data)
    with pytest.raises(InvalidArchive, match="too many extended tar headers"):
        read_archive(str(path))


def test_extended_headers_over_the_whole_archive_are_bounded(tmp_path):
    files = []
    for number in range(20):
        info = tarfile.TarInfo("pad/{0}".format(number))
        info.pax_headers = {"comment": "c" * 900 * 1024}
        files.append((info, b""))
    path = tmp_path / "many.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes(files + classic_files())))
    with pytest.raises(InvalidArchive, match="too many extended tar headers"):
        read_archive(str(path))


def test_sparse_members_are_refused(tmp_path):
    info = tarfile.TarInfo("sparse")
    info.type = tarfile.GNUTYPE_SPARSE
    path = tmp_path / "sparse.tar"
    path.write_bytes(tar_bytes([(info, b"")] + classic_files(), tarfile.GNU_FORMAT))
    with pytest.raises(InvalidArchive, match="member 'sparse' is a sparse file"):
        read_archive(str(path))


def test_pax_sparse_map_is_refused(tmp_path):
    info = tarfile.TarInfo("sparse")
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "sparse",
                        "GNU.sparse.realsize": "1099511627776"}
    path = tmp_path / "sparse.tar"
    path.write_bytes(tar_bytes([(info, b"9999999999\n" + b"0\n" * 100)] + classic_files()))
    with pytest.raises(InvalidArchive, match="is a sparse file"):
        read_archive(str(path))


def test_member_count_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(_archives, "MAX_MEMBERS", 10)
    path = tmp_path / "many.tar"
    path.write_bytes(tar_bytes([("f{0}".format(number), b"") for number in range(10)] + classic_files()))
    with pytest.raises(InvalidArchive, match="more than 10 members"):
        read_archive(str(path))


def test_deeply_nested_manifest(tmp_path):
    path = tmp_path / "nested.tar"
    path.write_bytes(tar_bytes(classic_files(manifest="[" * 100000 + "]" * 100000)))
    with pytest.raises(InvalidArchive, match="manifest.json in the archive nests too deeply"):
        read_archive(str(path))


def test_huge_number_in_manifest(tmp_path):
    manifest = json.dumps([{"Config": CONFIG_HEX + ".json", "RepoTags": [], "Layers": [], "Size": 10 ** 300}])
    path = tmp_path / "number.tar"
    path.write_bytes(tar_bytes(classic_files(manifest=manifest)))
    with pytest.raises(InvalidArchive, match="not valid JSON: a number of 301 digits"):
        read_archive(str(path))


# -- item 7: FIFOs, devices and links ------------------------------------------


@pytest.fixture
def fifo(tmp_path):
    path = str(tmp_path / "pipe.tar")
    os.mkfifo(path)
    return path


@pytest.fixture
def zero_link(tmp_path):
    path = str(tmp_path / "zero.tar")
    os.symlink("/dev/zero", path)
    return path


def test_open_regular_refuses_without_blocking(fifo, zero_link, tmp_path):
    with deadline():
        with pytest.raises(UnreadableFile, match="pipe.tar is not a file on the managed host: it is a FIFO"):
            open_regular(fifo)
        with pytest.raises(UnreadableFile, match="zero.tar is not a file on the managed host: it is a character device"):
            open_regular(zero_link)
        with pytest.raises(UnreadableFile, match="it is a directory"):
            open_regular(str(tmp_path))
        with pytest.raises(UnreadableFile, match="it does not exist"):
            open_regular(str(tmp_path / "absent"))
    (tmp_path / "real.tar").write_bytes(b"x")
    os.symlink("real.tar", str(tmp_path / "link.tar"))
    with open_regular(str(tmp_path / "link.tar")) as source:
        assert source.read() == b"x"
    with pytest.raises(UnreadableFile, match="it is a symbolic link"):
        open_regular(str(tmp_path / "link.tar"), follow_symlinks=False)


def test_read_archive_refuses_special_files(fifo, zero_link):
    with deadline():
        with pytest.raises(InvalidArchive, match="cannot read .*pipe.tar: it is a FIFO"):
            read_archive(fifo)
        with pytest.raises(InvalidArchive, match="cannot read .*zero.tar: it is a character device"):
            read_archive(zero_link)


def test_file_digest_refuses_a_fifo(fifo):
    with deadline():
        with pytest.raises(InvalidInput, match="it is a FIFO"):
            file_digest(fifo)


@pytest.fixture
def engine(docker):
    """(client, fake engine) holding app:1 as the archives of classic_files describe it."""
    docker[1].add_image("app:1", image_id=IMAGE_ID)
    return docker


def export_task(path: str, engine: tuple, check_mode: bool = False, force: bool = False) -> Task:
    return Task(engine[0], module_params(image_export.OPTIONS, name=["app:1"], path=path, force=force), check_mode)


def load_task(path: str, engine: tuple, check_mode: bool = False) -> Task:
    return Task(engine[0], module_params(image_load.OPTIONS, path=path), check_mode)


def test_export_refuses_a_fifo_at_path(fifo, engine):
    for check_mode in (True, False):
        with deadline():
            with pytest.raises(InvalidInput, match="pipe.tar is a FIFO \\(named pipe\\), not a regular file"):
                image_export.run(export_task(fifo, engine, check_mode))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_export_refuses_a_symbolic_link_at_path(tmp_path, engine):
    target = tmp_path / "real.tar"
    target.write_bytes(b"old")
    link = tmp_path / "link.tar"
    os.symlink("real.tar", str(link))
    with pytest.raises(InvalidInput, match="link.tar is a symbolic link \\(to .*real.tar\\); image_export does not write"):
        image_export.run(export_task(str(link), engine))
    assert os.path.islink(str(link)) and target.read_bytes() == b"old"


def test_load_refuses_a_fifo_and_a_link_to_dev_zero(fifo, zero_link, engine):
    with deadline():
        with pytest.raises(InvalidInput, match="pipe.tar is not a file on the managed host: it is a FIFO"):
            image_load.run(load_task(fifo, engine))
        with pytest.raises(InvalidInput, match="zero.tar is not a file on the managed host: it is a character device"):
            image_load.run(load_task(zero_link, engine))


def test_load_uploads_the_file_it_read(tmp_path, docker):
    data = tar_bytes(classic_files(("app:1",)))
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    os.symlink("a.tar", str(tmp_path / "current.tar"))
    result = image_load.run(load_task(str(tmp_path / "current.tar"), docker))
    assert result["changed"] and docker[1].last("POST", "/images/load").body == data


def test_atomic_file_never_replaces_a_fifo_or_a_link(fifo, tmp_path):
    with pytest.raises(InvalidInput, match="pipe.tar is a FIFO \\(named pipe\\), not a regular file"):
        with AtomicFile(fifo):
            pass
    (tmp_path / "real").write_bytes(b"old")
    os.symlink("real", str(tmp_path / "link"))
    with pytest.raises(InvalidInput, match="link is a symbolic link, not a regular file"):
        with AtomicFile(str(tmp_path / "link")):
            pass
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(str(tmp_path / "link"))
    assert sorted(os.listdir(str(tmp_path))) == ["link", "pipe.tar", "real"]


def test_atomic_file_rechecks_before_the_rename(tmp_path):
    path = str(tmp_path / "out.tar")
    with pytest.raises(InvalidInput, match="is a FIFO"):
        with AtomicFile(path) as target:
            target.file.write(b"new")
            os.mkfifo(path)
            target.commit()
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    assert os.listdir(str(tmp_path)) == ["out.tar"]


def test_atomic_file_never_replaces_a_device(tmp_path):
    path = str(tmp_path / "null")
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("cannot create a device node here")
    with pytest.raises(InvalidInput, match="null is a character device, not a regular file"):
        with AtomicFile(path):
            pass
    assert stat.S_ISCHR(os.lstat(path).st_mode)


# -- item 17: NUL bytes in paths -----------------------------------------------


def test_nul_byte_in_paths(tmp_path, engine):
    path = str(tmp_path) + "/a\0b.tar"
    message = "contains a NUL byte, which no file name can hold"
    with pytest.raises(InvalidInput, match=message):
        image_export.run(export_task(path, engine))
    with pytest.raises(InvalidInput, match=message):
        image_load.run(load_task(path, engine))
    for helper in (read_archive, file_digest, open_regular, AtomicFile):
        with pytest.raises(InvalidInput, match=message):
            helper(path)
    assert os.listdir(str(tmp_path)) == []


# -- item 19: replacing an archive keeps owner and mode, and is durable -------


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_export_keeps_owner_and_mode(tmp_path, engine):
    path = tmp_path / "out.tar"
    path.write_bytes(b"an old archive of something else")
    os.chown(str(path), 65534, 65534)
    os.chmod(str(path), 0o640)
    result = image_export.run(export_task(str(path), engine))
    assert result["changed"] and result["images"] == [{"id": IMAGE_ID, "tags": ["app:1"]}]
    status = os.lstat(str(path))
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (65534, 65534, 0o640)


def test_owner_change_refused_for_non_root_is_ignored(tmp_path, monkeypatch):
    calls = []

    def refuse(descriptor: int, uid: int, gid: int) -> None:
        calls.append((uid, gid))
        raise PermissionError(1, "Operation not permitted")

    path = tmp_path / "out.tar"
    path.write_bytes(b"old")
    os.chmod(str(path), 0o604)
    monkeypatch.setattr(os, "fchown", refuse)
    with AtomicFile(str(path)) as target:
        target.file.write(b"new")
        target.commit()
    status = os.lstat(str(path))
    assert path.read_bytes() == b"new" and stat.S_IMODE(status.st_mode) == 0o604
    assert calls == [(status.st_uid, status.st_gid), (-1, status.st_gid)]


def test_commit_syncs_the_file_and_then_its_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def record(descriptor: int) -> None:
        synced.append("directory" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", record)
    path = tmp_path / "out.tar"
    path.write_bytes(b"old")
    with AtomicFile(str(path)) as target:
        target.file.write(b"new")
        assert path.read_bytes() == b"old"
        target.commit()
    assert synced == ["file", "directory"]
