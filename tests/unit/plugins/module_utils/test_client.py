# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""EngineClient's endpoints against the shared fake engine: paths, parameters, and the normalisation of
Podman's answers through _engines (the transport itself is tested in test_transport.py)."""

from __future__ import annotations

import io
import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._engines import DOCKER, PODMAN, EngineIdentity
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    Conflict,
    EndpointMissing,
    NotFound,
    ServerError,
    StreamError,
    UnsupportedByEngine,
)
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import Reply, error, image_tar, sha, stream

IMAGE_ID = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741"
DIGEST = "sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb"
DOCKER_SUMMARY_KEYS = {"Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size", "SharedSize",
                       "VirtualSize", "Labels", "Containers"}


# -- paths and parameters ------------------------------------------------------

def test_every_path_is_versioned(docker):
    client, engine = docker
    engine.add_image("busybox:1.36", "busybox:1.37")
    engine.publish("busybox:1.36", digest=DIGEST)
    client.list_images()
    client.image_history("busybox:1.36")
    assert client.distribution_inspect("busybox:1.36", "e30=")["Descriptor"]["digest"] == DIGEST
    assert client.remove_image("busybox:1.36") == [{"Untagged": "busybox:1.36"}]
    client.prune_images()
    client.system_df()
    client.search_images("busybox")
    assert [(request.version, request.path) for request in engine.requests[1:]] == [
        ("1.41", "/images/json"), ("1.41", "/images/busybox:1.36/history"),
        ("1.41", "/distribution/busybox:1.36/json"), ("1.41", "/images/busybox:1.36"), ("1.41", "/images/prune"),
        ("1.41", "/system/df"), ("1.41", "/images/search")]


def test_reference_path_quoting(docker):
    client, engine = docker
    name = "registry.example.com:5000/team/app@" + DIGEST
    engine.add_image(image_id=IMAGE_ID, digests=(name,))
    assert client.inspect_image(name)["Id"] == IMAGE_ID
    assert engine.last().url == "http://engine/v1.41/images/registry.example.com:5000/team/app@" + DIGEST + "/json"
    assert client.inspect_image("a b#c") is None
    assert engine.last().url == "http://engine/v1.41/images/a%20b%23c/json"


def test_query_booleans_are_1_and_0(docker):
    client, engine = docker
    client.list_images(filters='{"dangling":["true"]}', all_images=True)
    call = engine.last()
    assert call.query == {"filters": '{"dangling":["true"]}', "all": "1", "digests": "0", "shared-size": "0"}
    assert call.url == ("http://engine/v1.41/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D"
                        "&all=1&digests=0&shared-size=0")


def test_none_params_are_left_out(docker):
    client, engine = docker
    engine.publish("busybox:latest")
    client.pull_image("busybox", None, "e30=")
    assert engine.last().query == {"fromImage": "busybox"}


def test_inspect_image_404_is_none(docker):
    client, _engine = docker
    assert client.inspect_image("busybox:nope") is None


def test_inspect_image_other_errors_raise(docker):
    client, engine = docker
    engine.on("GET", "/images/busybox/json", error(500, "boom"))
    with pytest.raises(ServerError):
        client.inspect_image("busybox")


def test_inspect_image_sends_platform_and_manifests_only_when_asked(fake_engine):
    client, engine = fake_engine(speaks="1.49")
    engine.add_image("busybox")
    client.inspect_image("busybox")
    assert engine.last().query == {}
    client.inspect_image("busybox", platform='{"os":"linux"}', manifests=True)
    assert engine.last().query == {"platform": '{"os":"linux"}', "manifests": "1"}


def test_remove_image_params(docker):
    client, engine = docker
    image_id = engine.add_image("app:1", image_id=IMAGE_ID)
    assert client.remove_image("app:1", force=True, noprune=False) == [{"Untagged": "app:1"}, {"Deleted": image_id}]
    assert engine.last().query == {"force": "1", "noprune": "0"}
    assert engine.last().url.endswith("?force=1&noprune=0")
    assert engine.images == {}


def test_remove_by_id_with_several_repositories_is_refused_like_dockerd(docker):
    client, engine = docker
    engine.add_image("a:1", "b:1", image_id=IMAGE_ID)
    with pytest.raises(Conflict) as exc:
        client.remove_image(IMAGE_ID)
    assert str(exc.value) == ("conflict: unable to delete 3f57d9401f8d (must be forced) - image is referenced in "
                              "multiple repositories")


def test_distribution_inspect_sends_auth(docker):
    client, engine = docker
    engine.publish("busybox:1.36")
    client.distribution_inspect("busybox:1.36", "eyJ1c2VybmFtZSI6ImEifQ==")
    assert engine.last().headers == {"X-Registry-Auth": "eyJ1c2VybmFtZSI6ImEifQ=="}


def test_tag_image(docker):
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    client.tag_image(IMAGE_ID, "registry.example.com/team/app", "stable")
    assert engine.tags() == {"app:1": IMAGE_ID, "registry.example.com/team/app:stable": IMAGE_ID}


def test_list_of_strings_is_repeated(docker):
    client, engine = docker
    engine.add_image("busybox:1.36")
    engine.add_image("alpine:3")
    destination = io.BytesIO()
    written = client.export_images(["busybox:1.36", "alpine:3"], destination)
    assert written == len(destination.getvalue()) > 0
    call = engine.last()
    assert call.query == {"names": ["busybox:1.36", "alpine:3"]}
    assert call.url == "http://engine/v1.41/images/get?names=busybox%3A1.36&names=alpine%3A3"
    assert call.stream is True


def test_export_single_image_uses_image_path(docker):
    client, engine = docker
    engine.add_image("busybox:1.36")
    assert client.export_images(["busybox:1.36"], io.BytesIO()) > 0
    assert engine.last().path == "/images/busybox:1.36/get"
    assert engine.last().query == {}


def test_load_images_streams_the_file_and_reads_the_names(docker):
    client, engine = docker
    archive = io.BytesIO(image_tar({IMAGE_ID: ({"Created": "2026-11-20T10:00:00Z", "Config": {}},
                                               ["team/app:1", "team/db:2"])}))
    summary, names = client.load_images(archive, quiet=True)
    assert names == ["team/app:1", "team/db:2"]
    assert summary.log == ["Loaded image: team/app:1", "Loaded image: team/db:2"]
    assert engine.last().headers == {"Content-Type": "application/x-tar"}
    assert engine.last().query == {"quiet": "1"}
    assert engine.tags() == {"team/app:1": IMAGE_ID, "team/db:2": IMAGE_ID}


def test_podman_load_reports_qualified_names_on_one_line(podman):
    client, _engine = podman
    archive = io.BytesIO(image_tar({IMAGE_ID: ({"Created": "2026-11-20T10:00:00Z", "Config": {}},
                                               ["team/app:1", "busybox:1.36"])}))
    summary, names = client.load_images(archive)
    assert summary.log == ["Loaded image: docker.io/team/app:1,docker.io/library/busybox:1.36"]
    assert names == ["team/app:1", "busybox:1.36"]


def test_search_images(docker):
    client, engine = docker
    engine.search_index = [{"name": "busybox", "description": "Busybox base image.", "star_count": 3000,
                            "is_official": True, "is_automated": False}]
    assert client.search_images("busybox", limit=5)[0]["name"] == "busybox"
    assert engine.last().headers == {}
    client.search_images("busybox", auth_header="e30=")
    assert engine.last().headers == {"X-Registry-Auth": "e30="}


def test_containers(docker):
    client, engine = docker
    engine.add_image("busybox")
    container_id = engine.add_container("web", "busybox", running=False)
    assert client.inspect_container("web")["Id"] == container_id
    assert client.inspect_container("nope") is None
    assert client.list_containers() == []
    assert [c["Id"] for c in client.list_containers(all_containers=True)] == [container_id]


@pytest.mark.parametrize("speaks, key", [("1.47", "keep-storage"), ("1.48", "reserved-space")])
def test_build_prune_renamed_keep_storage(fake_engine, speaks, key):
    client, engine = fake_engine(speaks=speaks)
    client.prune_build_cache(all_caches=True, keep_storage=1000)
    assert engine.last().query == {"all": "1", key: 1000}


# -- streams -----------------------------------------------------------------

PULL_BODY = (b'{"status":"Pulling from library/busybox","id":"1.36"}\r\n'
             b'{"status":"Pulling fs layer","progressDetail":{},"id":"a1b2c3d4e5f6"}\r\n'
             b'{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[=> ]","id":"a1b2c3d4e5f6"}\r\n'
             b'{"status":"Pull complete","progressDetail":{},"id":"a1b2c3d4e5f6"}\r\n'
             b'{"status":"Digest: ' + DIGEST.encode() + b'"}\r\n'
             b'{"status":"Status: Downloaded newer image for busybox:1.36"}\r\n')


def test_pull_image_stream(docker):
    client, engine = docker
    response = Reply(200, headers={"Content-Type": "application/json"},
                     chunks=[PULL_BODY[i:i + 10] for i in range(0, len(PULL_BODY), 10)])
    engine.on("POST", "/images/create", response)
    summary = client.pull_image("busybox", "1.36", "e30=", platform="linux/arm64")
    call = engine.last()
    assert call.query == {"fromImage": "busybox", "tag": "1.36", "platform": "linux/arm64"}
    assert call.headers == {"X-Registry-Auth": "e30="}
    assert call.stream is True
    assert response.chunk_sizes == [64 * 1024]
    assert response.closed is True
    assert summary.layers == {"a1b2c3d4e5f6": "Pull complete"}
    assert summary.messages[-1] == "Status: Downloaded newer image for busybox:1.36"


def test_pull_adds_the_registry_image(docker):
    client, engine = docker
    manifest = engine.publish("busybox:1.36")
    summary = client.pull_image("busybox", "1.36", "e30=")
    assert summary.messages[-1] == "Status: Downloaded newer image for busybox:1.36"
    image = client.inspect_image("busybox:1.36")
    assert image["Id"] == manifest.image_id
    assert image["RepoDigests"] == ["busybox@" + manifest.digest]


def test_pull_image_stream_error(docker):
    client, engine = docker
    body = (b'{"status":"Pulling from library/busybox","id":"nope"}\r\n'
            b'{"errorDetail":{"message":"manifest for busybox:nope not found: manifest unknown: manifest '
            b'unknown"},"error":"manifest for busybox:nope not found: manifest unknown: manifest unknown"}\r\n')
    response = Reply(200, chunks=[body])
    engine.on("POST", "/images/create", response)
    with pytest.raises(StreamError) as exc:
        client.pull_image("busybox", "nope", "e30=")
    assert str(exc.value) == "manifest for busybox:nope not found: manifest unknown: manifest unknown"
    assert response.closed is True


def test_pull_of_a_missing_tag_is_not_found(docker):
    client, _engine = docker
    with pytest.raises(NotFound) as exc:
        client.pull_image("busybox", "nope", "e30=")
    assert str(exc.value) == "manifest for busybox:nope not found: manifest unknown: manifest unknown"


@pytest.mark.parametrize("answer", [
    stream({"status": "Pulling from team/app", "id": "1"},
           {"errorDetail": {"message": "pull access denied for team/app, repository does not exist or may require "
                                       "'docker login'"},
            "error": "pull access denied for team/app, repository does not exist or may require 'docker login'"}),
    error(404, "pull access denied for team/app, repository does not exist or may require 'docker login'"),
])
def test_pull_auth_failure_gets_credentials_hint(docker, answer):
    client, engine = docker
    engine.on("POST", "/images/create", answer)
    with pytest.raises(AuthenticationFailed) as exc:
        client.pull_image("team/app", "1", "e30=")
    assert str(exc.value) == (
        "pull access denied for team/app, repository does not exist or may require 'docker login' (the "
        "registry refused the credentials: check registry_auth, or the entry for this registry in "
        "docker_config's config.json and its credential helper)")


def test_distribution_inspect_auth_failure(docker):
    client, engine = docker
    engine.on("GET", "/distribution/team/app:1/json", error(
        401, "Head \"https://registry.example.com/v2/team/app/manifests/1\": no basic auth credentials"))
    with pytest.raises(AuthenticationFailed) as exc:
        client.distribution_inspect("team/app:1", "e30=")
    assert "no basic auth credentials (the registry refused the credentials" in str(exc.value)


def test_distribution_inspect_other_errors_unchanged(docker):
    client, engine = docker
    engine.on("GET", "/distribution/team/app:1/json", error(500, "registry unavailable"))
    with pytest.raises(ServerError) as exc:
        client.distribution_inspect("team/app:1", "e30=")
    assert str(exc.value) == "registry unavailable"


def test_docker_unknown_manifest_stays_not_found(docker):
    client, _engine = docker
    with pytest.raises(NotFound) as exc:
        client.distribution_inspect("127.0.0.1:5000/app:1", "e30=")
    assert not isinstance(exc.value, EndpointMissing)
    assert str(exc.value) == "manifest unknown: manifest unknown"


def test_stream_truncated(docker):
    client, engine = docker
    engine.on("POST", "/images/create", Reply(200, chunks=[b'{"status":"Pulling from library/busybox","id":"1"}\r\n'
                                                           b'{"stat']))
    with pytest.raises(StreamError):
        client.pull_image("busybox", "1", "e30=")


def test_build_sends_registry_config(docker):
    client, engine = docker
    engine.on("POST", "/build", stream({"stream": "Step 1/1 : FROM busybox\n"}, {"aux": {"ID": IMAGE_ID}}))
    summary = client.build_image(b"context", {"t": "app:1", "rm": True}, registry_config="e30=")
    call = engine.last()
    assert call.headers == {"Content-Type": "application/x-tar", "X-Registry-Config": "e30="}
    assert call.query == {"t": "app:1", "rm": "1"}
    assert call.body == b"context"
    assert summary.aux == [{"ID": IMAGE_ID}]


def test_push_reports_the_aux_record(docker):
    client, engine = docker
    image_id = engine.add_image("127.0.0.1:5000/app:1")
    summary = client.push_image("127.0.0.1:5000/app", "1", "e30=")
    manifest = engine.registry["127.0.0.1:5000/app:1"]
    assert summary.aux == [{"Tag": "1", "Digest": manifest.digest, "Size": 527}]
    assert summary.layers == {image_id[7:19]: "Pushed"}
    assert engine.image(image_id)["RepoDigests"] == ["127.0.0.1:5000/app@" + manifest.digest]


def test_commit_sends_query_and_config(docker):
    client, engine = docker
    engine.add_image("busybox")
    container = engine.add_container("web", "busybox")
    answer = client.commit_container({"container": container, "repo": "app", "tag": "1", "changes": ["ENV A=2"]},
                                     {"Labels": {"a": "b"}})
    assert engine.last().query == {"container": container, "repo": "app", "tag": "1", "changes": ["ENV A=2"]}
    assert engine.last().body == {"Labels": {"a": "b"}}
    assert engine.image("app:1")["Id"] == answer["Id"]
    assert engine.image("app:1")["Config"]["Labels"] == {"a": "b"}


def test_import_sends_the_body_or_the_url(docker):
    client, engine = docker
    client.import_image(io.BytesIO(b"rootfs"), {"repo": "app", "tag": "7", "message": "m"})
    assert engine.last().headers == {"Content-Type": "application/octet-stream"}
    assert engine.last().query == {"repo": "app:7", "message": "m", "fromSrc": "-"}
    assert engine.image("app:7")["Comment"] == "m"


# -- Podman, normalised through _engines -----------------------------------------

def test_client_normalises_podman_inspect_and_list(podman):
    client, engine = podman
    engine.add_image("moby-test/busybox:latest", image_id=IMAGE_ID, origin="local",
                     digests=("moby-test/busybox@" + DIGEST,))
    assert engine.images[IMAGE_ID]["RepoTags"] == ["localhost/moby-test/busybox:latest"]
    image = client.inspect_image("moby-test/busybox:latest")
    assert client.engine.identity == EngineIdentity(PODMAN, "4.3.1")
    assert image["RepoTags"] == ["moby-test/busybox:latest"]
    assert image["RepoDigests"] == ["moby-test/busybox@" + DIGEST]
    listed, = client.list_images()
    assert set(listed) == DOCKER_SUMMARY_KEYS
    assert listed["RepoTags"] == ["moby-test/busybox:latest"]


def test_docker_answers_pass_unchanged(docker):
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    assert client.engine.identity == EngineIdentity(DOCKER, "20.10.24+dfsg1")
    assert client.inspect_image("app:1") == engine.images[IMAGE_ID]


def test_podman_reference_filter_applied_dockers_way(podman):
    client, engine = podman
    engine.add_image("team/busybox:1", origin="local")
    engine.add_image("busybox:1.36", "busybox:latest")
    listed = client.list_images(filters=json.dumps({"reference": ["busybox"]}))
    # Podman's own answer has both images; Docker's only the one whose familiar name matches.
    assert [image["RepoTags"] for image in listed] == [["busybox:1.36", "busybox:latest"]]
    listed = client.list_images(filters=json.dumps({"reference": ["busybox:latest"]}))
    assert [image["RepoTags"] for image in listed] == [["busybox:latest"]]


def test_podman_delete_answer_gets_familiar_names(podman):
    client, engine = podman
    engine.add_image("team/app:1", image_id=IMAGE_ID, origin="tag")
    engine.add_image("app:2", origin="local")
    assert client.remove_image("team/app:1") == [{"Untagged": "team/app:1"}, {"Deleted": IMAGE_ID}]
    assert engine.last().path == "/images/team/app:1"
    pruned = client.prune_images(filters=json.dumps({"dangling": ["false"]}))
    assert pruned["ImagesDeleted"][0] == {"Untagged": "app:2"}


def test_podman_history_gets_sha256_ids(podman):
    client, engine = podman
    engine.add_image("app:1", image_id=IMAGE_ID, origin="local")
    history = client.image_history(IMAGE_ID)
    assert [entry["Id"] for entry in history] == [IMAGE_ID, "<missing>"]
    assert history[0]["Tags"] == ["app:1"]


def test_podman_list_never_asks_for_digests(podman):
    client, engine = podman
    engine.add_image("127.0.0.1:5000/moby-test/busybox:latest", digests=("127.0.0.1:5000/moby-test/busybox@" + DIGEST,))
    listed, = client.list_images(digests=True)
    assert engine.last().query["digests"] == "0"
    assert "127.0.0.1:5000/moby-test/busybox@" + DIGEST in listed["RepoDigests"]


def test_podman_error_texts_get_dockers_words(podman):
    client, engine = podman
    engine.add_image("a:1", "b:1", image_id=IMAGE_ID)
    with pytest.raises(Conflict) as conflict:
        client.remove_image(IMAGE_ID)
    assert str(conflict.value) == (
        'unable to delete image "' + IMAGE_ID[7:] + '" by ID with more than one tag ([docker.io/library/a:1 '
        'docker.io/library/b:1]): please force removal (must be forced: the image is referenced in multiple '
        "repositories)")
    context = io.BytesIO()
    with __import__("tarfile").open(fileobj=context, mode="w") as archive:
        data = b"FROM scratch\nRUN exit 3\n"
        info = __import__("tarfile").TarInfo("Dockerfile")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with pytest.raises(StreamError) as failed:
        client.build_image(context.getvalue(), {"t": "app:1"})
    assert str(failed.value).endswith("exit status 3 (the command returned a non-zero code: 3)")
    assert failed.value.log_tail == ["STEP 1/2 : FROM scratch", "STEP 2/2 : RUN exit 3"]


def test_podman_push_digest_read_from_the_status_line(podman):
    client, engine = podman
    engine.add_image("127.0.0.1:5000/app:1")
    summary = client.push_image("127.0.0.1:5000/app", "1", "e30=")
    digest = engine.registry["127.0.0.1:5000/app:1"].digest
    assert "1: digest: {0} size: 527".format(digest) in summary.messages
    assert summary.aux == [{"Tag": "1", "Digest": digest, "Size": 527}]


def test_podman_commit_sends_config_as_changes(podman):
    client, engine = podman
    engine.add_image("busybox")
    container = engine.add_container("c1", "busybox")
    client.commit_container({"container": container, "repo": "app", "changes": ["ENV A=2"]},
                            {"Labels": {"a": "b"}, "Env": ["A=1"]})
    assert engine.last().query["changes"] == ['LABEL "a"="b"', 'ENV A="1"', "ENV A=2"]
    assert engine.image("app:latest")["Config"]["Labels"] == {"a": "b"}
    with pytest.raises(UnsupportedByEngine) as exc:
        client.commit_container({"container": container}, {"Healthcheck": {"Test": ["CMD", "true"]}})
    assert str(exc.value).startswith("config fields Healthcheck cannot be applied by the engine at tcp://127.0.0.1:2375, "
                                     "Podman 4.3.1 (API 1.41), which ignores the configuration of POST /commit")
    assert engine.calls("POST") == [("POST", "/commit")]  # the refused commit sent nothing


def test_import_carries_the_tag_in_repo(podman):
    client, engine = podman
    client.import_image("http://files.example.com/rootfs.tar", {"repo": "app", "tag": "7", "message": None})
    # Podman ignores tag= on import; repo=app:7 is honoured by Podman and Docker alike.
    assert engine.last().query == {"repo": "app:7", "fromSrc": "http://files.example.com/rootfs.tar"}
    assert engine.image("app:7") is not None


def test_podman_without_distribution_endpoint(podman):
    client, _engine = podman
    with pytest.raises(EndpointMissing) as exc:
        client.distribution_inspect("127.0.0.1:5000/app:1", "e30=")
    assert str(exc.value) == "Podman 4.3.1 (API 1.41) has no GET /distribution/127.0.0.1:5000/app:1/json endpoint"


def test_podman_missing_image_stays_not_found(podman):
    client, engine = podman
    assert client.inspect_image("app:1") is None
    assert engine.last().path == "/images/app:1/json"


def test_podman_without_build_prune(podman):
    client, _engine = podman
    with pytest.raises(EndpointMissing) as exc:
        client.prune_build_cache()
    assert str(exc.value) == "Podman 4.3.1 (API 1.41) has no POST /build/prune endpoint"


def test_made_up_ids_are_digests():
    assert sha("x").startswith("sha256:") and len(sha("x")) == 71
