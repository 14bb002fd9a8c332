# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_pull's decisions, with the engine client replaced by an in-memory stub."""

from __future__ import annotations

import json
import threading

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    InvalidInput,
    MobyEngineError,
    NotFound,
    StreamError,
    UnsupportedByEngine,
)
from ansible_collections.moby.engine.plugins.module_utils._stream import ProgressSummary
from ansible_collections.moby.engine.plugins.modules.image_pull import ImagePuller

OLD_ID = "sha256:" + "1" * 64
NEW_ID = "sha256:" + "2" * 64
LOCAL_DIGEST = "sha256:" + "a" * 64
REMOTE_DIGEST = "sha256:" + "b" * 64


class StubClient:
    """The engine as a dict of images; records every call."""

    def __init__(self, images=None, remote=None, after=None, pull_error=None, podman=False):
        self.podman = podman
        self.images = dict(images or {})   # name as inspected -> inspect data
        self.remote = dict(remote or {})   # name -> registry digest, or an exception
        self.after = dict(after or {})     # name -> inspect data once pulled
        self.pull_error = pull_error
        self.calls = []
        self._lock = threading.Lock()

    def _record(self, *call):
        with self._lock:
            self.calls.append(call)

    def names(self, method):
        return [call[1:] for call in self.calls if call[0] == method]

    def require_docker(self, option, feature):
        self._record("require_docker", option)
        if self.podman:
            raise UnsupportedByEngine("{0} needs {1}, which Podman does not offer".format(option, feature))

    def inspect_image(self, name):
        self._record("inspect_image", name)
        return self.images.get(name)

    def distribution_inspect(self, name, auth_header):
        self._record("distribution_inspect", name, auth_header)
        answer = self.remote.get(name)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            raise NotFound("manifest unknown")
        return {"Descriptor": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": answer,
                               "size": 1234}, "Platforms": [{"architecture": "amd64", "os": "linux"}]}

    def pull_image(self, repository, tag, auth_header, platform=None):
        self._record("pull_image", repository, tag, auth_header, platform)
        if self.pull_error is not None:
            raise self.pull_error
        for name, image in self.after.items():
            self.images[name] = image
        return ProgressSummary().consume([
            {"status": "Pulling from " + repository, "id": tag},
            {"status": "Pull complete", "progressDetail": {}, "id": "a1b2c3d4e5f6"},
            {"status": "Status: Downloaded newer image for {0}:{1}".format(repository, tag)},
        ])

    def list_images(self, filters=None, all_images=False, digests=False, shared_size=False):
        self._record("list_images", filters)
        return list({image["Id"]: image for image in self.images.values()}.values())


class StubCredentials:
    def __init__(self):
        self.asked = []

    def header_for(self, registry):
        self.asked.append(registry)
        return "auth-for-" + registry


def params(**overrides):
    base = {"name": ["busybox"], "tag": "latest", "platform": None, "all_tags": False, "pull": "missing",
            "parallel": 4}
    base.update(overrides)
    return base


def image(image_id, tags=(), digests=(), os_name="linux", arch="amd64"):
    return {"Id": image_id, "RepoTags": list(tags), "RepoDigests": list(digests), "Os": os_name,
            "Architecture": arch}


BUSYBOX_OLD = image(OLD_ID, ["busybox:latest"], ["busybox@" + LOCAL_DIGEST])
BUSYBOX_NEW = image(NEW_ID, ["busybox:latest"], ["busybox@" + REMOTE_DIGEST])


def run(client, check_mode=False, **overrides):
    creds = StubCredentials()
    result = ImagePuller(client, creds, params(**overrides), check_mode).run()
    return result, creds


# -- pull: missing -----------------------------------------------------------

def test_missing_present_does_not_pull():
    client = StubClient(images={"busybox:latest": BUSYBOX_OLD})
    result, _creds = run(client)
    assert client.names("pull_image") == []
    assert client.names("distribution_inspect") == []
    assert client.names("inspect_image") == [("busybox:latest",)]
    assert result["changed"] is False
    assert result["results"] == [{"name": "busybox", "pulled": False, "changed": False, "image": BUSYBOX_OLD}]
    assert result["image"] == BUSYBOX_OLD
    assert result["diff"]["before"] == result["diff"]["after"]


def test_missing_absent_pulls():
    client = StubClient(after={"busybox:latest": BUSYBOX_NEW})
    result, creds = run(client)
    assert client.names("pull_image") == [("busybox", "latest", "auth-for-docker.io", None)]
    assert creds.asked == ["docker.io"]
    assert result["changed"] is True
    entry = result["results"][0]
    assert entry["pulled"] is True
    assert entry["image"] == BUSYBOX_NEW
    assert entry["progress"]["layers"] == {"Pull complete": 1}
    assert result["diff"] == {"before": {"exists": False},
                              "after": {"exists": True, "id": NEW_ID, "tags": ["busybox:latest"],
                                        "digests": ["busybox@" + REMOTE_DIGEST]}}


def test_tag_option_applies_to_untagged_names():
    client = StubClient(images={"busybox:1.36": BUSYBOX_OLD, "alpine:3": image(OLD_ID)})
    result, _creds = run(client, name=["busybox", "alpine:3"], tag="1.36")
    assert sorted(client.names("inspect_image")) == [("alpine:3",), ("busybox:1.36",)]
    assert result["changed"] is False
    assert [entry["name"] for entry in result["results"]] == ["busybox", "alpine:3"]
    assert "image" not in result


def test_missing_absent_check_mode_never_pulls():
    client = StubClient(after={"busybox:latest": BUSYBOX_NEW})
    result, _creds = run(client, check_mode=True)
    assert client.names("pull_image") == []
    assert result["changed"] is True
    assert result["results"][0]["pulled"] is False
    assert result["results"][0]["image"] is None


def test_missing_other_platform_pulls():
    client = StubClient(images={"busybox:latest": BUSYBOX_OLD},
                        after={"busybox:latest": image(NEW_ID, ["busybox:latest"], arch="arm64")})
    result, _creds = run(client, platform="linux/arm64")
    assert client.names("pull_image") == [("busybox", "latest", "auth-for-docker.io", "linux/arm64")]
    assert result["changed"] is True


def test_missing_same_platform_does_not_pull():
    client = StubClient(images={"busybox:latest": BUSYBOX_OLD})
    result, _creds = run(client, platform="linux/amd64")
    assert client.names("pull_image") == []
    assert result["changed"] is False


# -- pull: always ------------------------------------------------------------

def test_always_current_digest_does_not_pull():
    client = StubClient(images={"busybox:latest": BUSYBOX_OLD}, remote={"busybox:latest": LOCAL_DIGEST})
    result, _creds = run(client, pull="always")
    assert client.names("distribution_inspect") == [("busybox:latest", "auth-for-docker.io")]
    assert client.names("pull_image") == []
    assert result["changed"] is False
    assert result["results"][0]["registry_digest"] == LOCAL_DIGEST
    assert result["results"][0]["pulled"] is False


def test_always_new_digest_pulls_and_changes():
    client = StubClient(images={"busybox:latest": BUSYBOX_OLD}, remote={"busybox:latest": REMOTE_DIGEST},
                        after={"busybox:latest": BUSYBOX_NEW})
    result, _creds = run(client, pull="always")
    assert client.names("pull_image") == [("busybox", "latest", "auth-for-docker.io", None)]
    assert result["changed"] is True
    assert result["results"][0]["registry_digest"] == REMOTE_DIGEST
    assert result["image"] == BUSYBOX_NEW
    assert result["diff"]["before"]["id"] == OLD_ID
    assert result["diff"]["after"]["id"] == NEW_ID


def test_always_pull_with_same_id_is_no_change():
    # The digest was not recorded locally (e.g. the image was loaded), the pull finds the same image.
    local = image(OLD_ID, ["busybox:latest"], [])
    client = StubClient(images={"busybox:latest": local}, remote={"busybox:latest": LOCAL_DIGEST},
                        after={"busybox:latest": image(OLD_ID, ["busybox:latest"], ["busybox@" + LOCAL_DIGEST])})
    result, _creds = run(client, pull="always")
    assert len(client.names("pull_image")) == 1
    assert result["results"][0]["pulled"] is True
    assert result["changed"] is False


def test_always_check_mode_never_pulls():
    client = StubClient(images={"busybox:latest": BUSYBOX_OLD}, remote={"busybox:latest": REMOTE_DIGEST},
                        after={"busybox:latest": BUSYBOX_NEW})
    result, _creds = run(client, check_mode=True, pull="always")
    assert client.names("pull_image") == []
    assert result["changed"] is True
    assert result["image"] == BUSYBOX_OLD


def test_always_check_mode_current_is_no_change():
    client = StubClient(images={"busybox:latest": BUSYBOX_OLD}, remote={"busybox:latest": LOCAL_DIGEST})
    result, _creds = run(client, check_mode=True, pull="always")
    assert result["changed"] is False


def test_always_digest_reference_present_is_never_rechecked():
    name = "busybox@" + LOCAL_DIGEST
    client = StubClient(images={name: BUSYBOX_OLD})
    result, _creds = run(client, name=[name], pull="always")
    assert client.names("distribution_inspect") == []
    assert client.names("pull_image") == []
    assert result["changed"] is False


def test_digest_reference_pulled_by_digest():
    name = "busybox@" + REMOTE_DIGEST
    client = StubClient(after={name: BUSYBOX_NEW})
    result, _creds = run(client, name=[name])
    assert client.names("pull_image") == [("busybox", REMOTE_DIGEST, "auth-for-docker.io", None)]
    assert result["changed"] is True


def test_always_private_registry():
    name = "registry.example.com:5000/team/app:1.2"
    local = image(OLD_ID, [name], ["registry.example.com:5000/team/app@" + LOCAL_DIGEST])
    client = StubClient(images={name: local}, remote={name: LOCAL_DIGEST})
    result, creds = run(client, name=[name], pull="always")
    assert creds.asked == ["registry.example.com:5000"]
    assert client.names("distribution_inspect") == [(name, "auth-for-registry.example.com:5000")]
    assert client.names("pull_image") == []
    assert result["changed"] is False


def test_always_digest_of_other_repository_does_not_count():
    # The same content known under another repository is not proof this repository is current.
    local = image(OLD_ID, ["busybox:latest"], ["mirror.example.com/busybox@" + LOCAL_DIGEST])
    client = StubClient(images={"busybox:latest": local}, remote={"busybox:latest": LOCAL_DIGEST},
                        after={"busybox:latest": BUSYBOX_NEW})
    result, _creds = run(client, pull="always")
    assert len(client.names("pull_image")) == 1
    assert result["changed"] is True


@pytest.mark.parametrize("remote_error", [NotFound("manifest unknown"),
                                          AuthenticationFailed("unauthorized (the registry refused...)")])
def test_always_registry_error_falls_back_to_pull(remote_error):
    client = StubClient(images={"busybox:latest": BUSYBOX_OLD}, remote={"busybox:latest": remote_error},
                        after={"busybox:latest": BUSYBOX_OLD})
    result, _creds = run(client, pull="always")
    assert result["results"][0]["registry_digest"] is None
    assert len(client.names("pull_image")) == 1
    assert result["changed"] is False


def test_always_absent_pulls_without_asking_registry():
    client = StubClient(after={"busybox:latest": BUSYBOX_NEW})
    result, _creds = run(client, pull="always")
    assert client.names("distribution_inspect") == []
    assert len(client.names("pull_image")) == 1
    assert result["changed"] is True


# -- run ---------------------------------------------------------------------

def test_several_images_keep_order():
    names = ["img{0}".format(i) for i in range(6)]
    client = StubClient(images={"img1:latest": image(OLD_ID)},
                        after={"{0}:latest".format(n): image(NEW_ID, [n + ":latest"]) for n in names})
    result, _creds = run(client, name=names, parallel=3)
    assert [entry["name"] for entry in result["results"]] == names
    assert result["changed"] is True
    assert isinstance(result["diff"], list) and len(result["diff"]) == 6
    assert all("diff" not in entry for entry in result["results"])


def test_single_failure_message():
    client = StubClient(pull_error=StreamError("manifest for busybox:nope not found"))
    with pytest.raises(MobyEngineError) as exc:
        run(client, name=["busybox:nope"])
    assert str(exc.value) == "manifest for busybox:nope not found"


def test_failures_name_each_image():
    client = StubClient(images={"alpine:latest": image(OLD_ID)},
                        pull_error=StreamError("manifest unknown"))
    with pytest.raises(MobyEngineError) as exc:
        run(client, name=["busybox:nope", "alpine", "team/app:x"])
    assert str(exc.value) == "busybox:nope: manifest unknown; team/app:x: manifest unknown"


def test_invalid_name_fails_before_any_engine_call():
    client = StubClient()
    with pytest.raises(InvalidInput):
        run(client, name=["busybox", "Not Valid"])
    assert client.calls == []


def test_parallel_must_be_positive():
    client = StubClient()
    with pytest.raises(InvalidInput) as exc:
        run(client, parallel=0)
    assert str(exc.value) == "parallel must be 1 or more, got 0"


def test_unexpected_exceptions_propagate():
    client = StubClient(pull_error=KeyError("boom"))
    with pytest.raises(KeyError):
        run(client)


# -- all_tags ----------------------------------------------------------------

def test_all_tags_rejects_tagged_name():
    with pytest.raises(InvalidInput) as exc:
        run(StubClient(), name=["busybox:1.36"], all_tags=True)
    assert "all_tags" in str(exc.value)


def test_all_tags_pulls_repository_and_compares_tags():
    client = StubClient(images={"busybox:1.35": image(OLD_ID, ["busybox:1.35", "other:1"])},
                        after={"busybox:1.36": image(NEW_ID, ["busybox:1.36"])})
    result, _creds = run(client, all_tags=True)
    assert client.names("pull_image") == [("busybox", None, "auth-for-docker.io", None)]
    assert json.loads(client.names("list_images")[0][0]) == {"reference": ["busybox"]}
    assert result["changed"] is True
    assert result["diff"] == {"before": {"busybox:1.35": OLD_ID},
                              "after": {"busybox:1.35": OLD_ID, "busybox:1.36": NEW_ID}}


def test_all_tags_nothing_new_is_no_change():
    client = StubClient(images={"busybox:1.36": image(OLD_ID, ["busybox:1.36"])})
    result, _creds = run(client, all_tags=True)
    assert result["changed"] is False


def test_all_tags_check_mode():
    client = StubClient()
    result, _creds = run(client, check_mode=True, all_tags=True)
    assert client.names("pull_image") == []
    assert result["changed"] is True
    known = StubClient(images={"busybox:1.36": image(OLD_ID, ["busybox:1.36"])})
    assert run(known, check_mode=True, all_tags=True)[0]["changed"] is False


def test_all_tags_is_refused_on_podman_before_anything_is_pulled():
    client = StubClient(podman=True)
    with pytest.raises(MobyEngineError) as exc:
        run(client, name=["registry.example.com/team/app"], all_tags=True)
    assert "all_tags needs a pull of every tag" in str(exc.value)
    assert client.names("pull_image") == []
