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
    deleted_meanwhile,
    explain_error,
    familiar_name,
    identify_engine,
    lacking_feature,
    loses_concurrent_name_changes,
    normalize_history,
    normalize_image,
    normalize_image_list,
    presence_platform,
    prune_filter_sets,
    pushed_aux,
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


def test_docker_error_texts_unchanged():
    message = "conflict: unable to delete 3f57d9401f8d (must be forced) - image is referenced in multiple repositories"
    assert explain_error(message, EngineIdentity(DOCKER, "20.10.24")) == message


def test_docker_push_aux_kept():
    aux = [{"Tag": "1", "Digest": REGISTRY_DIGEST, "Size": 527}]
    assert pushed_aux(["1: digest: " + LOCAL_DIGEST + " size: 1"], aux) is aux


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


@pytest.mark.parametrize("api_version, platform, sent", [
    ("1.49", '{"architecture":"arm64","os":"linux"}', '{"architecture":"arm64","os":"linux"}'),
    ("1.51", None, None),
    ("1.48", '{"architecture":"arm64","os":"linux"}', None),
    ("1.41", '{"architecture":"arm64","os":"linux"}', None),
])
def test_presence_platform_only_where_inspect_selects_platforms(api_version, platform, sent):
    assert presence_platform(api_version, platform) == sent


@pytest.mark.parametrize("filters, containerd_store, expected", [
    # The classic store honours label!=key=value: one prune.
    ({"label!": ["pin=y"], "until": ["24h"]}, False, [{"label!": ["pin=y"], "until": ["24h"]}]),
    # label!=key works on the containerd store too.
    ({"label!": ["pin", "keep"]}, True, [{"label!": ["pin", "keep"]}]),
    ({"dangling": ["true"]}, True, [{"dangling": ["true"]}]),
    # Images without the label need a prune of their own there (moby#52334).
    ({"label": ["ci"], "label!": ["pin=y"]}, True,
     [{"label": ["ci"], "label!": ["pin=y"]}, {"label": ["ci"], "label!": ["pin"]}]),
    # An image is kept only when every item holds: one prune per way an item can fail.
    ({"label!": ["pin=y", "keep", "tier=gold"]}, True,
     [{"label!": ["pin=y"]}, {"label!": ["pin"]}, {"label!": ["keep"]}, {"label!": ["tier=gold"]},
      {"label!": ["tier"]}]),
])
def test_prune_filter_sets(filters, containerd_store, expected):
    assert prune_filter_sets(filters, containerd_store) == expected


@pytest.mark.parametrize("engine, lacks", [
    # Podman 4.3 deletes the images label! names; 5.4 keeps them.
    (EngineIdentity(PODMAN, "4.3.1"), True),
    (EngineIdentity(PODMAN, "5.3.9"), True),
    (EngineIdentity(PODMAN, "5.4.2"), False),
    (EngineIdentity(PODMAN, "6.0.0-dev"), False),
    # A version that cannot be read is taken as the oldest.
    (EngineIdentity(PODMAN, ""), True),
    (EngineIdentity(DOCKER, "20.10.24+dfsg1"), False),
])
def test_prune_label_not_offered_from_podman_5_4(engine, lacks):
    assert bool(lacking_feature(engine, "prune_label_not")) is lacks
    # What Podman lacks in every version stays lacking.
    assert bool(lacking_feature(engine, "build_cache")) is engine.is_podman


@pytest.mark.parametrize("message, deleted", [
    # Docker 20.10's image store, the image deleted by a concurrent removal.
    ("unrecognized image ID sha256:" + "a" * 64, True),
    # Its other refusal names an image it cannot read: not known to be gone.
    ("unrecognized image sha256:{0}, open /var/lib/docker/image: no such file".format("a" * 64), False),
    ("conflict: unable to delete {0} (must be forced)".format("a" * 12), False),
])
def test_deleted_meanwhile(message, deleted):
    assert deleted_meanwhile(message) is deleted


@pytest.mark.parametrize("engine, loses", [
    # Measured: Podman 4.3 lost tags and untags of one image sent at once; 5.4 and Docker lost none.
    (EngineIdentity(PODMAN, "4.3.1"), True),
    (EngineIdentity(PODMAN, "5.4.2"), False),
    (EngineIdentity(PODMAN, ""), True),
    (EngineIdentity(DOCKER, "20.10.24+dfsg1"), False),
    (EngineIdentity(DOCKER, ""), False),
])
def test_concurrent_name_changes_take_turns_on_podman_before_5_4(engine, loses):
    assert loses_concurrent_name_changes(engine) is loses
