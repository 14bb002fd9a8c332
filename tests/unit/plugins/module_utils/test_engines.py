# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Engine identification and the normalisation of Podman's answers to Docker's spelling.

The Podman answers below were recorded from Debian 12's podman 4.3.1 (`podman system service`),
the Docker ones from Debian 12's docker.io 20.10.24.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._engines import (
    DOCKER,
    PODMAN,
    EngineIdentity,
    _path_match,
    config_as_changes,
    explain_error,
    familiar_name,
    identify_engine,
    normalize_history,
    normalize_image,
    normalize_image_list,
    pushed_aux,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    Conflict,
    EndpointMissing,
    EngineAPIError,
    NotFound,
    StreamError,
    UnsupportedApiVersion,
    UnsupportedByEngine,
)
from ansible_collections.moby.engine.tests.unit.plugins.module_utils.test_client import FakeResponse
# The engine fixture (a client whose HTTP session answers from a route table) is shared with test_client.
from ansible_collections.moby.engine.tests.unit.plugins.module_utils.test_client import (  # noqa: F401 pylint: disable=unused-import
    engine,
)

PODMAN_PING_HEADERS = {
    "Api-Version": "1.41", "Builder-Version": "", "Buildkit-Version": "", "Cache-Control": "no-cache",
    "Docker-Experimental": "true", "Libpod-Api-Version": "4.3.1", "Libpod-Buildah-Version": "1.28.2",
    "Pragma": "no-cache", "Server": "Libpod/4.3.1 (linux)", "Content-Type": "text/plain; charset=utf-8",
}
DOCKER_PING_HEADERS = {
    "Api-Version": "1.41", "Docker-Experimental": "false", "Ostype": "linux",
    "Server": "Docker/20.10.24+dfsg1 (linux)", "Cache-Control": "no-cache, no-store, must-revalidate",
}
IMAGE_ID = "sha256:30eaefb0f15b1b3e852d8643b9d53da5da71ea9bb23d073b4fd88d6befb4ad7d"
LOCAL_DIGEST = "sha256:0eabd132d35374d21ec4cb060e4e18c56d518d60078807672bc1d86313b9b5dd"
REGISTRY_DIGEST = "sha256:b8750d0ca1453ac40828f6d602fd901629a3d8ed14a61a3b3b684ae96245651d"

# GET /images/json entry from Podman: fully qualified names, a local digest, three extra keys.
PODMAN_SUMMARY = {
    "Id": IMAGE_ID, "ParentId": "",
    "RepoTags": ["localhost/moby-test/busybox:latest", "127.0.0.1:5000/moby-test/busybox:latest",
                 "docker.io/library/busybox:1.36", "docker.io/team/app:2"],
    "RepoDigests": ["localhost/moby-test/busybox@" + LOCAL_DIGEST,
                    "127.0.0.1:5000/moby-test/busybox@" + REGISTRY_DIGEST,
                    "docker.io/library/busybox@" + REGISTRY_DIGEST],
    "Created": 1795726060, "Size": 1997958, "SharedSize": 0, "VirtualSize": 1997958, "Labels": None,
    "Containers": 0, "Names": ["localhost/moby-test/busybox:latest"], "Digest": LOCAL_DIGEST,
    "History": ["localhost/moby-test/busybox:latest"],
}
DOCKER_SUMMARY_KEYS = {"Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size", "SharedSize",
                       "VirtualSize", "Labels", "Containers"}


@pytest.mark.parametrize("headers, product, version", [
    (PODMAN_PING_HEADERS, PODMAN, "4.3.1"),
    ({"Server": "Libpod/5.4.2 (linux)", "Api-Version": "1.41"}, PODMAN, "5.4.2"),
    (DOCKER_PING_HEADERS, DOCKER, "20.10.24+dfsg1"),
    ({"Server": "Docker/26.1.5+dfsg1 (linux)", "Api-Version": "1.45"}, DOCKER, "26.1.5+dfsg1"),
    # A proxy may strip Server: Docker is assumed, with no version to show.
    ({"Api-Version": "1.41"}, DOCKER, ""),
])
def test_identify_engine(headers, product, version):
    assert identify_engine(headers) == EngineIdentity(product, version)


def test_describe():
    assert EngineIdentity(PODMAN, "4.3.1").describe("1.41") == "Podman 4.3.1 (API 1.41)"
    assert EngineIdentity(DOCKER, "").describe(None) == "Docker (version unknown)"


@pytest.mark.parametrize("podman_name, docker_name", [
    ("localhost/app:1", "app:1"),
    ("localhost/team/app:1", "team/app:1"),
    ("docker.io/library/busybox:1.36", "busybox:1.36"),
    ("docker.io/team/app:2", "team/app:2"),
    ("127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1"),
    ("localhost:5000/app:1", "localhost:5000/app:1"),  # a real registry on localhost keeps its name
    ("quay.io/team/app:1", "quay.io/team/app:1"),
])
def test_familiar_name(podman_name, docker_name):
    assert familiar_name(podman_name) == docker_name


def test_podman_summary_gets_docker_keys_and_names():
    normalized = normalize_image(dict(PODMAN_SUMMARY), EngineIdentity(PODMAN, "4.3.1"))
    assert set(normalized) == DOCKER_SUMMARY_KEYS
    assert normalized["RepoTags"] == ["moby-test/busybox:latest", "127.0.0.1:5000/moby-test/busybox:latest",
                                      "busybox:1.36", "team/app:2"]
    assert normalized["RepoDigests"] == ["moby-test/busybox@" + LOCAL_DIGEST,
                                         "127.0.0.1:5000/moby-test/busybox@" + REGISTRY_DIGEST,
                                         "busybox@" + REGISTRY_DIGEST]


def test_podman_duplicate_names_collapse():
    image = {"Id": IMAGE_ID, "RepoTags": ["localhost/app:1", "app:1"], "RepoDigests": None, "Config": {}}
    normalized = normalize_image(image, EngineIdentity(PODMAN, "4.3.1"))
    assert normalized == {"Id": IMAGE_ID, "RepoTags": ["app:1"], "RepoDigests": None, "Config": {}}


def test_docker_answers_pass_unchanged():
    image = {"Id": IMAGE_ID, "RepoTags": ["localhost/app:1"], "RepoDigests": ["localhost/app@" + LOCAL_DIGEST]}
    assert normalize_image(image, EngineIdentity(DOCKER, "20.10.24")) is image


def test_client_normalises_podman_inspect_and_list(engine):  # noqa: F811 (pytest fixture)
    inspect = {"Id": IMAGE_ID, "RepoTags": ["localhost/moby-test/busybox:latest"],
               "RepoDigests": ["localhost/moby-test/busybox@" + LOCAL_DIGEST], "Config": {"Cmd": ["/bin/sh"]}}
    client, _session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        ("GET", "/v1.41/images/moby-test/busybox:latest/json"): FakeResponse(200, inspect),
        ("GET", "/v1.41/images/json"): FakeResponse(200, [PODMAN_SUMMARY]),
    })
    image = client.inspect_image("moby-test/busybox:latest")
    assert client.engine == EngineIdentity(PODMAN, "4.3.1")
    assert image == {"Id": IMAGE_ID, "RepoTags": ["moby-test/busybox:latest"],
                     "RepoDigests": ["moby-test/busybox@" + LOCAL_DIGEST], "Config": {"Cmd": ["/bin/sh"]}}
    listed, = client.list_images()
    assert set(listed) == DOCKER_SUMMARY_KEYS
    assert "moby-test/busybox:latest" in listed["RepoTags"]


def test_require_api_names_podman_and_its_version(engine):  # noqa: F811 (pytest fixture)
    client, _session = engine({("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS)})
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.require_api("1.42", "shared_size")
    assert str(exc.value) == ("shared_size needs engine API 1.42 or newer; the engine at tcp://127.0.0.1:2375 is "
                              "Podman 4.3.1 (API 1.41). Leave shared_size unset on this engine, or upgrade it")


@pytest.mark.parametrize("patterns, expected", [
    # Docker keeps only the names a pattern matches, and drops an image none of whose names match.
    (["moby-test/*"], [["moby-test/busybox:latest"]]),
    (["moby-test/busybox:latest"], [["moby-test/busybox:latest"]]),
    (["127.0.0.1:5000/moby-test/busybox"], [["127.0.0.1:5000/moby-test/busybox:latest"]]),
    (["busybox"], [["busybox:1.36"]]),
    (["*"], [["busybox:1.36"]]),  # * never crosses a /, as in Go's path.Match
    (["nothing/*"], []),
])
def test_podman_reference_filter_applied_dockers_way(patterns, expected):
    listed = normalize_image_list([dict(PODMAN_SUMMARY)], EngineIdentity(PODMAN, "4.3.1"),
                                  json.dumps({"reference": patterns}))
    assert [image["RepoTags"] for image in listed] == expected


def test_docker_list_passes_unchanged():
    images = [{"Id": IMAGE_ID, "RepoTags": ["a:1", "b:1"]}]
    assert normalize_image_list(images, EngineIdentity(DOCKER, "20.10.24"), '{"reference": ["a"]}') is images


def test_path_match():
    assert _path_match("app/*", "app/x")
    assert not _path_match("app/*", "app/x/y")
    assert _path_match("app/[a-c]?", "app/bz")
    assert not _path_match("app/[^a-c]z", "app/bz")
    assert _path_match("a\\*b", "a*b")


def test_podman_history_gets_sha256_ids_and_familiar_tags():
    podman = [{"Id": IMAGE_ID[len("sha256:"):], "Created": 1795726060, "CreatedBy": "/bin/sh -c #(nop) ADD file:x in /",
               "Tags": ["localhost/moby-test/busybox:latest"], "Size": 1996800, "Comment": ""},
              {"Id": "<missing>", "Created": 1, "CreatedBy": "", "Tags": None, "Size": 0, "Comment": ""}]
    history = normalize_history(podman, EngineIdentity(PODMAN, "4.3.1"))
    assert [entry["Id"] for entry in history] == [IMAGE_ID, "<missing>"]
    assert history[0]["Tags"] == ["moby-test/busybox:latest"]
    assert podman[0]["Id"] == IMAGE_ID[len("sha256:"):]  # the engine's answer is not modified in place
    # Asked by image id, the newest entry carries that id, as on Docker, whatever layer id Podman gave.
    other_layer = [dict(podman[0], Id="e75eb33db6c3a1cba0b6078910739e95c377c04a04837b4f811409864f139da5")]
    assert normalize_history(other_layer, EngineIdentity(PODMAN, "4.3.1"), image_id=IMAGE_ID)[0]["Id"] == IMAGE_ID


def test_import_carries_the_tag_in_repo(engine):  # noqa: F811 (pytest fixture)
    client, session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        ("POST", "/v1.41/images/create"): FakeResponse(200, chunks=[b'{"status":"' + IMAGE_ID.encode() + b'"}\n']),
    })
    client.import_image("http://files.example.com/rootfs.tar", {"repo": "app", "tag": "7", "message": None})
    call = session.calls[-1]
    # Podman ignores tag= on import; repo=app:7 is honoured by Podman and Docker alike.
    assert call["params"] == {"repo": "app:7", "fromSrc": "http://files.example.com/rootfs.tar"}


def test_podman_without_distribution_endpoint(engine):  # noqa: F811 (pytest fixture)
    client, _session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        # No route: Podman's router answers a bare text/plain "Not Found".
        ("GET", "/v1.41/distribution/127.0.0.1:5000/app:1/json"): FakeResponse(404, "Not Found"),
    })
    with pytest.raises(EndpointMissing) as exc:
        client.distribution_inspect("127.0.0.1:5000/app:1", "e30=")
    assert str(exc.value) == "Podman 4.3.1 (API 1.41) has no GET /distribution/127.0.0.1:5000/app:1/json endpoint"


def test_podman_missing_image_stays_not_found(engine):  # noqa: F811 (pytest fixture)
    client, _session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        ("GET", "/v1.41/images/app:1/json"): FakeResponse(
            404, {"cause": "image not known", "message": "failed to find image app:1: app:1: image not known",
                  "response": 404}),
    })
    assert client.inspect_image("app:1") is None


def test_docker_unknown_manifest_stays_not_found(engine):  # noqa: F811 (pytest fixture)
    client, _session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", DOCKER_PING_HEADERS),
        ("GET", "/v1.41/distribution/127.0.0.1:5000/app:1/json"): FakeResponse(
            404, {"message": "manifest unknown: manifest unknown"}),
    })
    with pytest.raises(NotFound) as exc:
        client.distribution_inspect("127.0.0.1:5000/app:1", "e30=")
    assert not isinstance(exc.value, EndpointMissing)


def test_podman_delete_answer_gets_familiar_names(engine):  # noqa: F811 (pytest fixture)
    client, _session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        ("DELETE", "/v1.41/images/team/app:1"): FakeResponse(200, [{"Untagged": "docker.io/team/app:1"},
                                                                   {"Deleted": IMAGE_ID[len("sha256:"):]}]),
        ("POST", "/v1.41/images/prune"): FakeResponse(200, {"ImagesDeleted": [{"Untagged": "localhost/app:2"}],
                                                            "SpaceReclaimed": 0}),
    })
    assert client.remove_image("team/app:1") == [{"Untagged": "team/app:1"}, {"Deleted": IMAGE_ID}]
    assert client.prune_images() == {"ImagesDeleted": [{"Untagged": "app:2"}], "SpaceReclaimed": 0}


def test_podman_list_never_asks_for_digests(engine):  # noqa: F811 (pytest fixture)
    client, session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        ("GET", "/v1.41/images/json"): FakeResponse(200, [PODMAN_SUMMARY]),
    })
    listed, = client.list_images(digests=True)
    assert session.calls[-1]["params"]["digests"] == "0"
    assert "127.0.0.1:5000/moby-test/busybox@" + REGISTRY_DIGEST in listed["RepoDigests"]


def test_empty_body_is_a_clear_error(engine):  # noqa: F811 (pytest fixture)
    client, _session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", DOCKER_PING_HEADERS),
        ("GET", "/v1.41/images/json"): FakeResponse(200, ""),
    })
    with pytest.raises(EngineAPIError) as exc:
        client.list_images(digests=True)
    assert str(exc.value) == "the engine at tcp://127.0.0.1:2375 answered GET /images/json with '', which is not JSON"


def test_podman_error_texts_get_dockers_words(engine):  # noqa: F811 (pytest fixture)
    podman_conflict = ('unable to delete image "' + IMAGE_ID[7:] + '" by ID with more than one tag ([docker.io/a:1 '
                       'docker.io/b:1]): please force removal')
    build_failure = {"errorDetail": {"message": 'building at STEP "RUN exit 3": while running runtime: exit status 3'},
                     "error": 'building at STEP "RUN exit 3": while running runtime: exit status 3'}
    client, _session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        ("DELETE", "/v1.41/images/" + IMAGE_ID): FakeResponse(409, {"cause": "image is in use", "message": podman_conflict,
                                                                    "response": 409}),
        ("POST", "/v1.41/build"): FakeResponse(200, chunks=[b'{"stream":"STEP 1/2: FROM busybox\\n"}\n',
                                                            json.dumps(build_failure).encode() + b"\n"]),
    })
    with pytest.raises(Conflict) as conflict:
        client.remove_image(IMAGE_ID)
    assert str(conflict.value) == podman_conflict + " (must be forced: the image is referenced in multiple repositories)"
    with pytest.raises(StreamError) as failed:
        client.build_image(None, {"t": "app:1"})
    assert str(failed.value).endswith("exit status 3 (the command returned a non-zero code: 3)")
    assert failed.value.log_tail == ["STEP 1/2: FROM busybox"]


def test_docker_error_texts_unchanged():
    message = "conflict: unable to delete 3f57d9401f8d (must be forced) - image is referenced in multiple repositories"
    assert explain_error(message, EngineIdentity(DOCKER, "20.10.24")) == message


def test_podman_push_digest_read_from_the_status_line(engine):  # noqa: F811 (pytest fixture)
    client, _session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        ("POST", "/v1.41/images/127.0.0.1:5000/app/push"): FakeResponse(200, chunks=[
            b'{"status":"The push refers to repository [127.0.0.1:5000/app:1]"}\n',
            b'{"status":"1: digest: ' + REGISTRY_DIGEST.encode() + b' size: 427"}\n']),
    })
    summary = client.push_image("127.0.0.1:5000/app", "1", "e30=")
    assert summary.aux == [{"Tag": "1", "Digest": REGISTRY_DIGEST, "Size": 427}]


def test_docker_push_aux_kept():
    aux = [{"Tag": "1", "Digest": REGISTRY_DIGEST, "Size": 527}]
    assert pushed_aux(["1: digest: " + LOCAL_DIGEST + " size: 1"], aux, EngineIdentity(DOCKER, "20.10.24")) is aux


def test_podman_fixed_api_version_newer_than_offered_is_refused(engine):  # noqa: F811 (pytest fixture)
    client, session = engine({("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS)}, api_version="9.99")
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.inspect_image("app:1")
    assert str(exc.value) == ("moby.engine refused API version 9.99: the engine at tcp://127.0.0.1:2375 is Podman 4.3.1 "
                              "(API 1.41), which does not check the version it is asked for; use api_version auto "
                              "or 1.41")
    assert session.paths() == [("GET", "/_ping")]


def test_config_as_changes():
    changes, untranslatable = config_as_changes({
        "Cmd": ["sleep", "300"], "Entrypoint": "/bin/sh", "Env": ["A=1", "B=two words"],
        "Labels": {"moby.it": "yes"}, "WorkingDir": "/tmp", "User": "nobody", "StopSignal": "SIGINT",
        "ExposedPorts": {"8080/tcp": {}}, "Volumes": {"/data": {}}, "OnBuild": ["RUN true"],
        "Healthcheck": {"Test": ["CMD", "true"]}, "Tty": True, "Hostname": ""})
    assert changes == ['CMD ["sleep", "300"]', "ENTRYPOINT /bin/sh", 'ENV A="1"', 'ENV B="two words"',
                       'LABEL "moby.it"="yes"', "WORKDIR /tmp", "USER nobody", "STOPSIGNAL SIGINT",
                       "EXPOSE 8080/tcp", 'VOLUME ["/data"]', "ONBUILD RUN true"]
    assert untranslatable == ["Healthcheck", "Tty"]


def test_podman_commit_sends_config_as_changes(engine):  # noqa: F811 (pytest fixture)
    client, session = engine({
        ("GET", "/_ping"): FakeResponse(200, "OK", PODMAN_PING_HEADERS),
        ("POST", "/v1.41/commit"): FakeResponse(201, {"Id": IMAGE_ID}),
    })
    client.commit_container({"container": "c1", "changes": ["ENV A=2"]}, {"Labels": {"a": "b"}, "Env": ["A=1"]})
    assert session.calls[-1]["params"]["changes"] == ['LABEL "a"="b"', 'ENV A="1"', "ENV A=2"]
    with pytest.raises(UnsupportedByEngine) as exc:
        client.commit_container({"container": "c1"}, {"Healthcheck": {"Test": ["CMD", "true"]}})
    assert str(exc.value).startswith("config fields Healthcheck cannot be applied by the engine at tcp://127.0.0.1:2375, "
                                     "Podman 4.3.1 (API 1.41), which ignores the configuration of POST /commit")
    assert len(session.calls) == 2  # the refused commit sent nothing
