# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_export and image_load with platform, against the shared fake engine answering as Docker 28.5 with the
containerd image store does (API 1.51): an export with platform is an OCI layout whose index.json names that
platform's manifest; inspect with platform answers 404 "was found but does not provide the specified platform"
without that platform's content and gives the platform manifest's digest as Id; a load with platform stores that
platform's content under the image's index."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.moby.engine.plugins.module_utils._archives import ArchiveImage, read_archive
from ansible_collections.moby.engine.plugins.module_utils._common import check_requirements
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound, UnsupportedApiVersion
from ansible_collections.moby.engine.plugins.modules import image_export, image_load
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import Reply, error, stream

NAME = "127.0.0.1:5000/moby-test/platforms:1"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PLATFORMS = {"amd64": {"architecture": "amd64", "os": "linux"},
             "arm64": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
CONTAINERD_INFO = {"Driver": "overlayfs", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
                   "ServerVersion": "28.5.2", "OperatingSystem": "Debian GNU/Linux 13 (trixie)"}


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


LAYER = b"L" * 1024
CONFIGS = {arch: json.dumps(dict(platform, rootfs={"type": "layers", "diff_ids": [digest(LAYER)]})).encode()
           for arch, platform in PLATFORMS.items()}
MANIFESTS = {arch: json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"digest": digest(CONFIGS[arch]), "size": len(CONFIGS[arch])},
                               "layers": [{"digest": digest(LAYER), "size": len(LAYER)}]}).encode()
             for arch in PLATFORMS}
INDEX_BLOB = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
    {"mediaType": OCI_MANIFEST, "digest": digest(MANIFESTS[arch]), "size": len(MANIFESTS[arch]),
     "platform": PLATFORMS[arch]} for arch in PLATFORMS]}).encode()
INDEX = digest(INDEX_BLOB)
MANIFEST = {arch: digest(data) for arch, data in MANIFESTS.items()}
ANNOTATIONS = {"io.containerd.image.name": NAME, "org.opencontainers.image.ref.name": "1"}


def oci_archive(arch: str | None = None, name: str = NAME, content: tuple = tuple(PLATFORMS)) -> bytes:
    """``docker save`` of Docker 28's containerd store: the whole image (index.json names the index; manifest.json
    the config of the engine's own platform only) with the blobs of the ``content`` platforms (those the store
    had), or with ``arch`` that platform's manifest alone."""
    arches = [arch] if arch else list(content)
    files = [("blobs/sha256/" + digest(data)[7:], data) for data in
             [LAYER] + [CONFIGS[each] for each in arches] + [MANIFESTS[each] for each in arches]]
    annotations = dict(ANNOTATIONS, **{"io.containerd.image.name": name})
    if arch:
        entry = {"mediaType": OCI_MANIFEST, "digest": MANIFEST[arch], "size": len(MANIFESTS[arch]),
                 "annotations": annotations, "platform": PLATFORMS[arch]}
    else:
        files.append(("blobs/sha256/" + INDEX[7:], INDEX_BLOB))
        entry = {"mediaType": OCI_INDEX, "digest": INDEX, "size": len(INDEX_BLOB), "annotations": annotations}
    config = CONFIGS[arch or arches[0]]
    files += [("index.json", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}).encode()),
              ("manifest.json", json.dumps([{"Config": "blobs/sha256/" + digest(config)[7:], "RepoTags": [name],
                                             "Layers": ["blobs/sha256/" + digest(LAYER)[7:]]}]).encode()),
              ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for member, data in files:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Store:
    """The containerd image store's view of NAME: which platforms' content is present (None: no image)."""

    def __init__(self, engine, present=("amd64", "arm64")):
        self.engine = engine
        self.present = set(present) if present is not None else None
        self.loads: list = []
        engine.on("GET", "/info", lambda record: Reply(200, CONTAINERD_INFO))
        engine.on("GET", "/images/.*/json", self.inspect)
        engine.on("GET", "/images/.*/get", self.export)
        engine.on("POST", "/images/load", self.load)

    @staticmethod
    def _platform(record):
        given = json.loads(record.query.get("platform") or "null")
        if given is None:
            return None
        return "arm64" if given.get("architecture") == "arm64" else given.get("architecture")

    def inspect(self, record):
        name = record.path[len("/images/"):-len("/json")]
        if self.present is None or name not in (NAME, INDEX):
            return error(404, "No such image: {0}".format(name))
        arch = self._platform(record)
        if arch is not None and arch not in self.present:
            return error(404, "image with reference {0} was found but does not provide the specified platform "
                              "(linux/{1})".format(NAME, arch))
        if arch is None:
            image = {"Id": INDEX, "RepoTags": [NAME], "Architecture": "amd64", "Os": "linux",
                     "Descriptor": {"mediaType": OCI_INDEX, "digest": INDEX, "size": len(INDEX_BLOB)}}
            if record.query.get("manifests") == "1":
                image["Manifests"] = [{"ID": MANIFEST[each], "Kind": "image", "Available": each in self.present,
                                       "Descriptor": {"mediaType": OCI_MANIFEST, "digest": MANIFEST[each],
                                                      "platform": PLATFORMS[each]}} for each in PLATFORMS]
            return Reply(200, image)
        return Reply(200, dict({"Id": MANIFEST[arch], "RepoTags": [NAME], "Os": "linux",
                                "Descriptor": {"mediaType": OCI_MANIFEST, "digest": MANIFEST[arch],
                                               "platform": PLATFORMS[arch]}},
                               **{key.capitalize(): value for key, value in PLATFORMS[arch].items() if key != "os"}))

    def export(self, record):
        arch = self._platform(record)
        if arch is not None and arch not in (self.present or ()):
            return error(404, "No such image: {0}".format(NAME))
        return Reply(200, headers={"Content-Type": "application/x-tar"}, chunks=[oci_archive(arch)])

    def load(self, record):
        arch = self._platform(record)
        self.loads.append(arch)
        # As Docker 28.5 does: an image loaded with a platform keeps that platform's content alone.
        self.present = {arch} if arch else set(PLATFORMS)
        return stream({"stream": "Loaded image: {0}\n".format(NAME)})


@pytest.fixture
def store(fake_engine):
    client, engine = fake_engine(speaks="1.51")
    return client, engine, Store(engine)


@pytest.fixture
def export(make_task, tmp_path):
    def go(client, check_mode=False, **params):
        params.setdefault("path", str(tmp_path / "app.tar"))
        params.setdefault("name", [NAME])
        image_export.validate(dict({"platform": None}, **params))
        return image_export.run(make_task(client, image_export.OPTIONS, check_mode, **params))

    return go


@pytest.fixture
def load(make_task):
    def go(client, check_mode=False, **params):
        image_load.validate(dict({"platform": None}, **params))
        return image_load.run(make_task(client, image_load.OPTIONS, check_mode, **params))

    return go


def gets(engine):
    return [request for request in engine.requests if request.path.endswith("/get")]


# -- reading archives written with and without platform ---------------------------------------------------------


def test_an_archive_of_one_platform_names_its_manifest(tmp_path):
    path = tmp_path / "arm.tar"
    path.write_bytes(oci_archive("arm64"))
    (image,) = read_archive(str(path))
    assert image == ArchiveImage(digest(CONFIGS["arm64"]), (NAME,), MANIFEST["arm64"])
    assert image.platforms == (("linux/arm64/v8", MANIFEST["arm64"]),)
    assert image.named_for(True).id == MANIFEST["arm64"]
    assert image.platform_digest("linux/aarch64") == MANIFEST["arm64"]
    assert image.platform_digest("linux/amd64") is None


def test_a_whole_multi_platform_archive_is_its_index_on_the_containerd_store(tmp_path):
    # manifest.json names the amd64 config only; index.json the index: the tag ties them together.
    path = tmp_path / "all.tar"
    path.write_bytes(oci_archive())
    (image,) = read_archive(str(path))
    assert image == ArchiveImage(digest(CONFIGS["amd64"]), (NAME,), INDEX)
    assert image.named_for(True).id == INDEX
    assert image.platform_names() == ["linux/amd64", "linux/arm64/v8"]
    assert image.platform_digest("linux/arm64") == MANIFEST["arm64"]
    assert image.carried == (("linux/amd64", MANIFEST["amd64"]), ("linux/arm64/v8", MANIFEST["arm64"]))
    assert image.named_for(True).carried == image.carried


def test_an_archive_of_a_store_holding_one_platform_carries_that_platform_alone(tmp_path):
    # The index names both platforms; the store that exported it had (and the archive holds) arm64's content only.
    path = tmp_path / "arm-content.tar"
    path.write_bytes(oci_archive(content=("arm64",)))
    (image,) = read_archive(str(path))
    assert image.platform_names() == ["linux/amd64", "linux/arm64/v8"]
    assert image.carried == (("linux/arm64/v8", MANIFEST["arm64"]),)


def test_a_one_platform_archive_carries_no_platforms_of_an_index(tmp_path):
    path = tmp_path / "arm.tar"
    path.write_bytes(oci_archive("arm64"))
    assert read_archive(str(path))[0].carried == ()


# -- image_export --------------------------------------------------------------------------------------------------


def test_export_decision():
    wanted = {MANIFEST["arm64"]: [NAME]}
    decide = image_export.decide
    assert decide(None, wanted, platform="linux/arm64") == (True, "there is no image archive at path")
    assert decide(wanted, wanted, platform="linux/arm64") == (
        False, "the archive holds the linux/arm64 platform of these images with these tags")
    assert decide(wanted, wanted, force=True, platform="linux/arm64") == (True, "force is set")
    assert decide({MANIFEST["amd64"]: [NAME]}, wanted, platform="linux/arm64", held_platforms=("linux/amd64",)) == (
        True, "the archive holds linux/amd64 of these images, not linux/arm64")
    assert decide({INDEX: [NAME]}, wanted, platform="linux/arm64",
                  held_platforms=("linux/amd64", "linux/arm64/v8")) == (
        True, "the archive holds linux/amd64, linux/arm64/v8 of these images, not linux/arm64 alone")
    assert decide({MANIFEST["amd64"]: ["other:1"]}, wanted, platform="linux/arm64",
                  held_platforms=("linux/amd64",)) == (True, "the archive holds other images or tags")
    assert decide({INDEX: [NAME]}, {INDEX: [NAME]}) == (False, "the archive holds these images with these tags")


def test_export_one_platform_then_a_rerun_writes_nothing(store, export, tmp_path):
    client, engine, _store = store
    path = str(tmp_path / "app.tar")
    result = export(client, platform="linux/aarch64")
    assert result["changed"] is True
    assert result["reason"] == "there is no image archive at path"
    (request,) = gets(engine)
    assert json.loads(request.query["platform"]) == {"os": "linux", "architecture": "arm64"}
    assert result["images"] == [{"id": MANIFEST["arm64"], "tags": [NAME]}]
    assert result["image"]["Id"] == MANIFEST["arm64"]
    assert [image.platform_names() for image in read_archive(path)] == [["linux/arm64/v8"]]
    written = os.stat(path).st_mtime_ns

    again = export(client, platform="linux/arm64/v8")
    assert (again["changed"], again["reason"]) == (
        False, "the archive holds the linux/arm64/v8 platform of these images with these tags")
    assert again["diff"]["before"] == again["diff"]["after"]
    assert len(gets(engine)) == 1 and os.stat(path).st_mtime_ns == written


def test_export_check_mode_predicts_another_platform_and_writes_nothing(store, export, tmp_path):
    client, engine, _store = store
    path = str(tmp_path / "app.tar")
    export(client, platform="linux/arm64")
    before = open(path, "rb").read()
    predicted = export(client, check_mode=True, platform="linux/amd64")
    assert (predicted["changed"], predicted["reason"]) == (
        True, "the archive holds linux/arm64/v8 of these images, not linux/amd64")
    assert predicted["diff"] == {"before": {"path": path, "images": {MANIFEST["arm64"]: [NAME]}},
                                 "after": {"path": path, "images": {MANIFEST["amd64"]: [NAME]}}}
    assert len(gets(engine)) == 1 and open(path, "rb").read() == before

    real = export(client, platform="linux/amd64")
    assert (real["changed"], real["images"], real["diff"]) == (True, predicted["images"], predicted["diff"])
    assert [image.platform_names() for image in read_archive(path)] == [["linux/amd64"]]


def test_export_of_the_whole_image_is_current_as_its_index_and_not_for_one_platform(store, export):
    client, engine, _store = store
    assert export(client)["images"] == [{"id": INDEX, "tags": [NAME]}]
    assert "platform" not in gets(engine)[0].query
    again = export(client)
    assert (again["changed"], again["reason"]) == (False, "the archive holds these images with these tags")
    one = export(client, check_mode=True, platform="linux/arm64")
    assert (one["changed"], one["reason"]) == (
        True, "the archive holds linux/amd64, linux/arm64/v8 of these images, not linux/arm64 alone")


def test_export_of_a_platform_without_content_fails_and_writes_nothing(fake_engine, export, tmp_path):
    client, engine = fake_engine(speaks="1.51")
    Store(engine, present=("amd64",))
    with pytest.raises(NotFound) as exc:
        export(client, platform="linux/arm64")
    assert str(exc.value) == ("image {0} holds no content for platform linux/arm64; pull that platform first "
                              "(image_pull with platform)".format(NAME))
    assert gets(engine) == [] and os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("module", [image_export, image_load])
@pytest.mark.parametrize("platform", ["linux/", "linux/arm64/v8/extra", "linux arm64"])
def test_bad_platform_is_refused_before_anything(module, platform):
    with pytest.raises(InvalidInput) as exc:
        module.validate({"platform": platform})
    assert str(exc.value) == ("platform {0!r} is not os[/arch[/variant]], for example linux/amd64 or "
                              "linux/arm64/v8".format(platform))


@pytest.mark.parametrize("module, params", [(image_export, {"name": [NAME], "path": "/tmp/x.tar"}),
                                            (image_load, {"path": "/tmp/x.tar"})])
def test_platform_needs_api_1_48(docker, make_task, module, params):
    client, engine = docker
    task = make_task(client, module.OPTIONS, platform="linux/arm64", **params)
    with pytest.raises(UnsupportedApiVersion) as exc:
        check_requirements(client, module.REQUIRES, task.params, {})
    assert str(exc.value) == ("platform needs engine API 1.48 or newer; the engine at tcp://127.0.0.1:2375 is Docker "
                              "20.10.24+dfsg1 (API 1.41). Leave platform unset on this engine, or upgrade it")
    assert engine.mutations() == []
    check_requirements(client, module.REQUIRES, dict(task.params, platform=None), {})


# -- image_load ----------------------------------------------------------------------------------------------------


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "all.tar"
    path.write_bytes(oci_archive())
    return str(path)


def test_load_decision():
    decide = image_load.decide
    assert decide({INDEX: None}, {INDEX: [NAME]}, "linux/arm64") == (
        True, "the linux/arm64 platform of {0} is not present".format(INDEX))
    assert decide({INDEX: []}, {INDEX: [NAME]}, "linux/arm64") == (True, "image {0} lacks the tags {1}".format(
        INDEX, NAME))
    assert decide({INDEX: [NAME]}, {INDEX: [NAME]}, "linux/arm64") == (
        False, "the linux/arm64 platform of every image of the archive is present with its tags")
    assert decide({INDEX: None}, {INDEX: [NAME]}) == (True, "image {0} is not present".format(INDEX))
    assert decide({INDEX: None}, {INDEX: [NAME]}, lacking={INDEX: ["linux/amd64"]}) == (
        True, "the linux/amd64 platform of {0} is not present".format(INDEX))
    assert decide({INDEX: None}, {INDEX: [NAME]}, lacking={INDEX: ["linux/amd64", "linux/s390x"]}) == (
        True, "the linux/amd64, linux/s390x platforms of {0} are not present".format(INDEX))


def test_load_one_platform_then_a_rerun_uploads_nothing(fake_engine, load, archive):
    client, engine = fake_engine(speaks="1.51")
    store = Store(engine, present=None)
    predicted = load(client, check_mode=True, path=archive, platform="linux/arm64")
    assert (predicted["changed"], predicted["reason"]) == (
        True, "the linux/arm64 platform of {0} is not present".format(INDEX))
    assert engine.mutations() == [] and store.present is None

    result = load(client, path=archive, platform="linux/arm64")
    assert engine.mutations() == [("POST", "/images/load")]
    assert json.loads(engine.last("POST").query["platform"]) == {"os": "linux", "architecture": "arm64"}
    assert store.present == {"arm64"}
    assert (result["changed"], result["reason"], result["loaded"]) == (True, predicted["reason"], [NAME])
    assert result["archive_images"] == [{"id": INDEX, "tags": [NAME]}]
    assert result["diff"] == predicted["diff"] == {"before": {INDEX: None}, "after": {INDEX: [NAME]}}
    assert result["image"]["Id"] == MANIFEST["arm64"]

    again = load(client, path=archive, platform="linux/arm64/v8")
    assert (again["changed"], again["reason"]) == (
        False, "the linux/arm64/v8 platform of every image of the archive is present with its tags")
    assert len(engine.mutations()) == 1


@pytest.mark.parametrize("check_mode", [True, False])
def test_load_of_a_platform_is_refused_while_the_engine_holds_another(fake_engine, load, archive, check_mode):
    # Loading amd64 alone would leave the image with amd64's content only: the engine would delete arm64's.
    client, engine = fake_engine(speaks="1.51")
    store = Store(engine, present=("arm64",))
    with pytest.raises(InvalidInput) as exc:
        load(client, check_mode=check_mode, path=archive, platform="linux/amd64")
    assert str(exc.value) == (
        "loading only linux/amd64 of {0} would delete the content of linux/arm64/v8 that the engine holds for it (the "
        "engine keeps only the loaded platform of an image); leave platform unset to load every platform the archive "
        "holds; nothing was loaded".format(NAME))
    assert engine.mutations() == [] and store.present == {"arm64"}


def test_load_of_a_platform_the_engine_alone_holds_is_current_and_not_refused(fake_engine, load, archive):
    client, engine = fake_engine(speaks="1.51")
    Store(engine, present=("arm64",))
    result = load(client, path=archive, platform="linux/arm64")
    assert (result["changed"], engine.mutations()) == (False, [])


@pytest.mark.parametrize("arch, platform, holds", [
    (None, "linux/s390x", "linux/amd64, linux/arm64/v8"),
    # The engine would load this archive and give its tag to the arm64 manifest alone.
    ("arm64", "linux/amd64", "linux/arm64/v8"),
])
def test_load_of_a_platform_the_archive_lacks_is_refused_before_uploading(fake_engine, load, tmp_path, arch,
                                                                          platform, holds):
    client, engine = fake_engine(speaks="1.51")
    store = Store(engine, present=None)
    path = tmp_path / "app.tar"
    path.write_bytes(oci_archive(arch))
    with pytest.raises(InvalidInput) as exc:
        load(client, path=str(path), platform=platform)
    assert str(exc.value) == "the archive's image {0} holds {1}, not {2}; nothing was loaded".format(
        NAME, holds, platform)
    assert engine.mutations() == [] and store.present is None


def test_load_of_the_whole_archive_is_current_as_its_index(fake_engine, load, archive):
    client, engine = fake_engine(speaks="1.51")
    Store(engine, present=None)
    assert load(client, path=archive)["changed"] is True
    assert "platform" not in engine.last("POST").query
    again = load(client, path=archive)
    assert (again["changed"], again["reason"]) == (False, "every image of the archive is present with its tags")


def test_load_of_the_whole_archive_again_when_a_platform_it_holds_is_missing(fake_engine, load, archive):
    # The store kept arm64 alone: the image exists under its index, but the archive's amd64 content is not there.
    client, engine = fake_engine(speaks="1.51")
    store = Store(engine, present=("arm64",))
    predicted = load(client, check_mode=True, path=archive)
    assert (predicted["changed"], predicted["reason"]) == (
        True, "the linux/amd64 platform of {0} is not present".format(INDEX))
    assert predicted["diff"] == {"before": {INDEX: None}, "after": {INDEX: [NAME]}}
    assert engine.mutations() == []
    result = load(client, path=archive)
    assert (result["changed"], result["reason"], result["diff"]) == (True, predicted["reason"], predicted["diff"])
    assert (store.loads, store.present) == ([None], {"amd64", "arm64"})
    again = load(client, path=archive)
    assert (again["changed"], again["reason"]) == (False, "every image of the archive is present with its tags")
    assert again["image"]["Id"] == INDEX and "Manifests" not in again["image"]
    assert len(engine.mutations()) == 1


def test_load_of_an_archive_holding_only_the_present_platform_is_current(fake_engine, load, tmp_path):
    client, engine = fake_engine(speaks="1.51")
    Store(engine, present=("arm64",))
    path = tmp_path / "arm-content.tar"
    path.write_bytes(oci_archive(content=("arm64",)))
    result = load(client, path=str(path))
    assert (result["changed"], result["reason"]) == (False, "every image of the archive is present with its tags")
    assert engine.mutations() == []


def test_before_api_1_48_a_present_multi_platform_image_counts_as_loaded(fake_engine, load, archive):
    # Docker 27 with the containerd store cannot list which platforms' content it has (documented).
    client, engine = fake_engine(speaks="1.47")
    Store(engine, present=("arm64",))
    result = load(client, path=archive)
    assert (result["changed"], result["reason"]) == (False, "every image of the archive is present with its tags")
    assert all("manifests" not in request.query for request in engine.requests)
    assert engine.mutations() == []


# -- API 1.48 (Docker 28.0): platform is sent with export and load, but inspect cannot select a platform -----------


def test_api_1_48_cannot_tell_a_platform_present_so_every_run_acts(fake_engine, load, export, archive, tmp_path):
    client, engine = fake_engine(speaks="1.48")
    store = Store(engine)
    first = export(client, path=str(tmp_path / "arm.tar"), platform="linux/arm64")
    assert "platform" not in engine.last("GET", "/images/{0}/json".format(NAME)).query
    assert first["image"]["Id"] == INDEX
    assert json.loads(gets(engine)[0].query["platform"]) == {"os": "linux", "architecture": "arm64"}
    # The archive holds the arm64 manifest, which inspect without platform cannot name: never current.
    assert export(client, path=str(tmp_path / "arm.tar"), platform="linux/arm64")["changed"] is True
    assert len(gets(engine)) == 2

    # With both platforms present, a load of arm64 would delete amd64's content: refused (manifests, API 1.48).
    with pytest.raises(InvalidInput):
        load(client, path=archive, platform="linux/arm64")
    assert store.loads == []
    # With arm64 alone present, the answer is the index's: not known to hold arm64, so it is loaded every run.
    store.present = {"arm64"}
    for _run in range(2):
        result = load(client, path=archive, platform="linux/arm64")
        assert (result["changed"], result["diff"]["before"]) == (True, {INDEX: None})
    assert store.loads == ["arm64", "arm64"]
