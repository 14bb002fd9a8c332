# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_import against the shared fake engine: the fingerprint in the image's comment decides a rerun."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.modules.image_import import OPTIONS, run

URL = "http://files.example.com/rootfs.tar"


@pytest.fixture
def rootfs(tmp_path):
    path = tmp_path / "rootfs.tar"
    path.write_bytes(b"rootfs bytes" * 100)
    return str(path)


@pytest.fixture
def import_(make_task):
    def go(client, check_mode=False, **params):
        params.setdefault("repository", "team/base")
        params.setdefault("tag", "1")
        return run(make_task(client, OPTIONS, check_mode, **params))

    return go


def test_first_run_imports_second_does_not(docker, import_, rootfs):
    client, engine = docker
    result = import_(client, source=rootfs, changes=["ENV DEBUG=1"], comment="nightly")
    request = engine.last("POST")
    assert request.query == {"repo": "team/base:1", "changes": ["ENV DEBUG=1"],
                             "message": "nightly [moby.engine import {0}]".format(result["fingerprint"]),
                             "fromSrc": "-"}
    assert request.body == b"rootfs bytes" * 100
    assert result["changed"] is True
    assert result["reason"] == "the tag names no image yet"
    image = engine.image("team/base:1")
    assert result["image"] == image
    assert result["diff"] == {"before": {"tag": "team/base:1", "id": None, "fingerprint": None},
                              "after": {"tag": "team/base:1", "id": image["Id"], "fingerprint": result["fingerprint"]}}
    again = import_(client, source=rootfs, changes=["ENV DEBUG=1"], comment="nightly")
    assert again["changed"] is False
    assert again["reason"] == "the tag already names an image made from this source with these options"
    assert again["diff"]["before"] == again["diff"]["after"]
    assert len(engine.mutations()) == 1


def test_other_content_imports_again(docker, import_, rootfs, tmp_path):
    client, engine = docker
    first = import_(client, source=rootfs)
    (tmp_path / "rootfs.tar").write_bytes(b"other bytes")
    second = import_(client, source=rootfs)
    assert second["changed"] is True
    assert second["reason"] == "the tag names an image made from another source or with other options"
    assert second["fingerprint"] != first["fingerprint"]
    assert len(engine.mutations()) == 2


def test_an_image_made_otherwise_is_replaced(docker, import_, rootfs):
    client, engine = docker
    engine.add_image("team/base:1")
    result = import_(client, source=rootfs)
    assert result["reason"] == "the tag names an image this module's import did not make"


def test_url_source_is_fetched_by_the_engine(podman, import_):
    client, engine = podman
    result = import_(client, source=URL)
    # Podman ignores tag= here; the tag travels in repo on every engine.
    assert engine.last("POST").query["repo"] == "team/base:1"
    assert engine.last("POST").query["fromSrc"] == URL
    assert result["image"]["RepoTags"] == ["team/base:1"]
    assert import_(client, source=URL)["changed"] is False


def test_check_mode_predicts_and_imports_nothing(docker, import_, rootfs):
    client, engine = docker
    before = engine.snapshot()
    result = import_(client, check_mode=True, source=rootfs)
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True
    assert result["diff"]["after"] == {"tag": "team/base:1", "id": None, "fingerprint": result["fingerprint"]}
    assert import_(client, source=rootfs)["fingerprint"] == result["fingerprint"]


@pytest.mark.parametrize("params, message", [
    ({"source": "/nonexistent/rootfs.tar"}, "source /nonexistent/rootfs.tar is neither an http(s) URL nor a file on "
                                            "the managed host (give an absolute path)"),
    ({"changes": ["RUN rm -rf /"]}, "changes[0] 'RUN rm -rf /' is not an instruction the engine accepts here"),
    ({"changes": ["ENV A=1\nRUN true"]}, "holds a line break"),
    ({"repository": "team/base@sha256:" + "a" * 64}, "carries a digest; give a repository and a tag"),
    ({"platform": "linux/amd64/v2/extra"}, "platform"),
])
def test_bad_input_is_refused_before_any_request(docker, import_, rootfs, params, message):
    client, engine = docker
    params.setdefault("source", rootfs)
    with pytest.raises(InvalidInput) as exc:
        import_(client, **params)
    assert message in str(exc.value)
    assert engine.requests == []
