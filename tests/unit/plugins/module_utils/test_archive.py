# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile

import pytest

from ansible_collections.moby.engine.plugins.module_utils._archives import ArchiveImage, InvalidArchive, images_as_dict, read_archive
from ansible_collections.moby.engine.plugins.module_utils._files import AtomicFile, FileWriteError
from ansible_collections.moby.engine.plugins.module_utils._snapshots import (
    fingerprint,
    recorded_fingerprint,
    snapshot_decision,
    snapshot_result,
    stamp_comment,
    target_reference,
    validate_changes,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput

CONFIG_HEX = "b0cc389a3224bdb59a8fa9136055dbd5a2f9a23c7ff7b7ca09bcfe83d67da054"
LAYER = b"L" * 5000


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_tar(path, files, compress=False):
    """files: list of (name, bytes), written in order like the engine writes them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def classic_files(tags=("moby-test/busybox:latest",)):
    manifest = [{"Config": CONFIG_HEX + ".json", "RepoTags": list(tags), "Layers": ["abc/layer.tar"]}]
    return [(CONFIG_HEX + ".json", b"{}"), ("abc/VERSION", b"1.0"), ("abc/layer.tar", LAYER),
            ("manifest.json", json.dumps(manifest).encode())]


def oci_files(annotations, index_media_type=None):
    config = b'{"architecture": "amd64"}'
    manifest = json.dumps({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"digest": digest(config)},
                           "layers": [{"digest": digest(LAYER)}]}).encode()
    files = [("blobs/sha256/" + digest(config)[7:], config), ("blobs/sha256/" + digest(LAYER)[7:], LAYER),
             ("blobs/sha256/" + digest(manifest)[7:], manifest)]
    entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
             "annotations": annotations}
    if index_media_type:
        nested = json.dumps({"manifests": [entry]}).encode()
        files.append(("blobs/sha256/" + digest(nested)[7:], nested))
        entry = {"mediaType": index_media_type, "digest": digest(nested), "annotations": annotations}
    files.append(("index.json", json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode()))
    # The digest index.json names: the manifest's, or the nested index's (the image's id on the containerd store).
    return files, digest(config), entry["digest"]


def test_classic_archive(tmp_path):
    path = write_tar(tmp_path / "a.tar", classic_files(("b:1", "a:1")))
    assert read_archive(str(path)) == [ArchiveImage("sha256:" + CONFIG_HEX, ("a:1", "b:1"))]


def test_classic_archive_gzip(tmp_path):
    path = write_tar(tmp_path / "a.tar.gz", classic_files(), compress=True)
    assert images_as_dict(read_archive(str(path))) == {"sha256:" + CONFIG_HEX: ["moby-test/busybox:latest"]}


def test_same_image_twice_is_merged(tmp_path):
    files = classic_files()
    manifest = [{"Config": CONFIG_HEX + ".json", "RepoTags": ["x:1"], "Layers": []},
                {"Config": CONFIG_HEX + ".json", "RepoTags": ["x:2"], "Layers": []}]
    files[-1] = ("manifest.json", json.dumps(manifest).encode())
    path = write_tar(tmp_path / "a.tar", files)
    assert read_archive(str(path)) == [ArchiveImage("sha256:" + CONFIG_HEX, ("x:1", "x:2"))]


def test_newer_engine_manifest_with_blob_paths(tmp_path):
    files, config_digest, target = oci_files({})
    manifest = [{"Config": "blobs/sha256/" + config_digest[7:], "RepoTags": ["app:2"],
                 "Layers": ["blobs/sha256/" + digest(LAYER)[7:]]}]
    files.append(("manifest.json", json.dumps(manifest).encode()))
    path = write_tar(tmp_path / "a.tar", files)
    # The index.json beside manifest.json records the manifest digest too.
    assert read_archive(str(path)) == [ArchiveImage(config_digest, ("app:2",), target)]


def test_oci_index_with_containerd_name(tmp_path):
    files, config_digest, target = oci_files({"io.containerd.image.name": "docker.io/library/busybox:1.36",
                                              "org.opencontainers.image.ref.name": "1.36"})
    path = write_tar(tmp_path / "oci.tar", files)
    assert read_archive(str(path)) == [ArchiveImage(config_digest, ("busybox:1.36",), target)]


def test_oci_index_bare_ref_name_gives_no_tag(tmp_path):
    files, config_digest, target = oci_files({"org.opencontainers.image.ref.name": "latest"})
    path = write_tar(tmp_path / "oci.tar", files)
    assert read_archive(str(path)) == [ArchiveImage(config_digest, (), target)]


def test_oci_nested_index_uses_index_digest(tmp_path):
    files, _config, index_digest = oci_files({"io.containerd.image.name": "127.0.0.1:5000/app:1"},
                                             index_media_type="application/vnd.oci.image.index.v1+json")
    path = write_tar(tmp_path / "oci.tar", files)
    assert read_archive(str(path)) == [ArchiveImage(index_digest, ("127.0.0.1:5000/app:1",), index_digest)]


def test_truncated_archive(tmp_path):
    path = write_tar(tmp_path / "a.tar", classic_files())
    data = path.read_bytes()
    path.write_bytes(data[:2048 + 1024])  # inside abc/layer.tar's data
    with pytest.raises(InvalidArchive, match="truncated|cut short"):
        read_archive(str(path))


def test_truncated_before_manifest(tmp_path):
    files = classic_files()
    path = write_tar(tmp_path / "a.tar", files)
    full = path.read_bytes()
    cut = full.index(b"manifest.json")  # cut right at the manifest's header
    path.write_bytes(full[:cut])
    with pytest.raises(InvalidArchive, match="neither manifest.json nor index.json"):
        read_archive(str(path))


def test_truncated_gzip(tmp_path):
    path = write_tar(tmp_path / "a.tar.gz", classic_files(), compress=True)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(InvalidArchive, match="damaged or cut short"):
        read_archive(str(path))


def test_not_a_tar(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 200)
    with pytest.raises(InvalidArchive, match="is not a tar archive"):
        read_archive(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(InvalidArchive, match="cannot read"):
        read_archive(str(tmp_path / "absent.tar"))


def test_layer_named_by_manifest_is_missing(tmp_path):
    files = [item for item in classic_files() if item[0] != "abc/layer.tar"]
    path = write_tar(tmp_path / "a.tar", files)
    with pytest.raises(InvalidArchive, match="lacks abc/layer.tar"):
        read_archive(str(path))


def test_manifest_not_json(tmp_path):
    files = classic_files()[:-1] + [("manifest.json", b"{not json")]
    path = write_tar(tmp_path / "a.tar", files)
    with pytest.raises(InvalidArchive, match="not valid JSON"):
        read_archive(str(path))


def leftovers(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".part"))


def test_atomic_file_replaces_and_keeps_mode(tmp_path):
    path = tmp_path / "out.tar"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    with AtomicFile(str(path)) as target:
        target.file.write(b"new")
        assert path.read_bytes() == b"old"
        target.commit()
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_atomic_file_new_file_follows_umask(tmp_path):
    path = tmp_path / "new.tar"
    old_umask = os.umask(0o027)
    try:
        with AtomicFile(str(path)) as target:
            target.file.write(b"x")
            target.commit()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_atomic_file_failure_keeps_old_file(tmp_path):
    path = tmp_path / "out.tar"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with AtomicFile(str(path)) as target:
            target.file.write(b"partial")
            raise RuntimeError("connection broke")
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_atomic_file_disk_full_is_a_write_error(tmp_path):
    path = tmp_path / "out.tar"
    with pytest.raises(FileWriteError, match="cannot write .*out.tar: No space left on device"):
        with AtomicFile(str(path)) as target:
            target.file.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert not path.exists()
    assert leftovers(tmp_path) == []


def test_atomic_file_missing_directory(tmp_path):
    with pytest.raises(FileWriteError, match="cannot create a file in"):
        with AtomicFile(str(tmp_path / "nope" / "out.tar")):
            pass


def test_fingerprint_is_stable_and_recorded():
    first = fingerprint(operation="import", source="sha256:aa", changes=["ENV A=1"], message=None)
    assert first == fingerprint(message=None, changes=["ENV A=1"], source="sha256:aa", operation="import")
    assert first != fingerprint(operation="import", source="sha256:aa", changes=["ENV A=2"], message=None)
    comment = stamp_comment("nightly rootfs", "import", first)
    assert comment == "nightly rootfs [moby.engine import {0}]".format(first)
    assert recorded_fingerprint({"Comment": comment}, "import") == first
    assert recorded_fingerprint({"Comment": comment}, "commit") is None
    assert recorded_fingerprint({"Comment": "Imported from -"}, "import") is None
    assert recorded_fingerprint(None, "import") is None
    assert stamp_comment(None, "commit", first) == "[moby.engine commit {0}]".format(first)


def test_snapshot_result_in_check_mode_predicts_the_fingerprint():
    old = "sha256:" + "a" * 64
    before = {"Id": "sha256:1", "Comment": stamp_comment(None, "commit", old)}
    result = snapshot_result("app:1", before, before, (True, "why"), True, "commit", "sha256:" + "b" * 64)
    assert result["changed"] is True
    assert result["reason"] == "why"
    assert result["image"] is before
    assert result["diff"] == {"before": {"tag": "app:1", "id": "sha256:1", "fingerprint": old},
                              "after": {"tag": "app:1", "id": None, "fingerprint": "sha256:" + "b" * 64}}


def test_snapshot_result_after_a_real_run():
    new = "sha256:" + "c" * 64
    after = {"Id": "sha256:2", "Comment": stamp_comment("msg", "import", new)}
    result = snapshot_result("app:1", None, after, (True, "why"), False, "import", new)
    assert result["diff"]["before"] == {"tag": "app:1", "id": None, "fingerprint": None}
    assert result["diff"]["after"] == {"tag": "app:1", "id": "sha256:2", "fingerprint": new}
    assert "image" not in snapshot_result("app:1", None, None, (True, "why"), True, "import", new)


def test_snapshot_decision():
    digest = "sha256:" + "d" * 64
    made = {"Id": "sha256:3", "Comment": stamp_comment(None, "import", digest)}
    assert snapshot_decision(made, "import", digest, force=False) == (
        False, "the tag already names an image made from this source with these options")
    assert snapshot_decision(made, "import", digest, force=True) == (True, "force is set")
    assert snapshot_decision(None, "import", digest, force=False) == (True, "the tag names no image yet")
    assert snapshot_decision(made, "import", "sha256:" + "e" * 64, force=False) == (
        True, "the tag names an image made from another source or with other options")
    assert snapshot_decision(made, "commit", digest, force=False) == (
        True, "the tag names an image this module's commit did not make")


def test_validate_changes():
    assert validate_changes([" ENV A=1 ", 'cmd ["sh"]']) == ["ENV A=1", 'cmd ["sh"]']
    assert validate_changes(None) == []
    # What the engine accepts for both commit and import, HEALTHCHECK and LABEL included.
    assert validate_changes(["LABEL a=b", "HEALTHCHECK CMD true", "STOPSIGNAL SIGINT"]) == [
        "LABEL a=b", "HEALTHCHECK CMD true", "STOPSIGNAL SIGINT"]
    with pytest.raises(InvalidInput, match=r"changes\[1\] 'RUN apt-get update' is not an instruction the engine"):
        validate_changes(["ENV A=1", "RUN apt-get update"])
    with pytest.raises(InvalidInput, match=r"changes\[0\] 'WORKDIR'"):
        validate_changes(["WORKDIR"])


@pytest.mark.parametrize("smuggled", ["ENV A=1\nRUN rm -rf /", "ENV A=1\rRUN id", "LABEL a=b\r\nFROM scratch"])
def test_validate_changes_refuses_line_breaks(smuggled):
    with pytest.raises(InvalidInput, match=r"changes\[0\] .* holds a line break; give each instruction as its own"):
        validate_changes([smuggled])


def test_target_reference():
    assert target_reference("app", "1").familiar_tagged() == "app:1"
    assert target_reference("127.0.0.1:5000/app:2", "1").familiar_tagged() == "127.0.0.1:5000/app:2"
    with pytest.raises(InvalidInput, match="carries a digest"):
        target_reference("app@sha256:" + "a" * 64, "1")
    with pytest.raises(InvalidInput, match="must be lower case"):
        target_reference("App", "1")
