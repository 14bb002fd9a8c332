# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_commit against the shared fake engine: a container becomes an image once per set of inputs."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound, UnsupportedByEngine
from ansible_collections.moby.engine.plugins.modules.image_commit import OPTIONS, run


@pytest.fixture
def commit(make_task):
    def go(client, check_mode=False, **params):
        params.setdefault("container", "web")
        params.setdefault("repository", "team/snapshot")
        return run(make_task(client, OPTIONS, check_mode, **params))

    return go


def web(engine, **config):
    engine.add_image("busybox")
    return engine.add_container("web", "busybox", config=config)


def test_first_run_commits_second_does_not(docker, commit):
    client, engine = docker
    container = web(engine, Shell=["/bin/ash", "-c"])
    result = commit(client, config={"Labels": {"release": "1"}}, changes=["ENV A=2"], author="ci")
    request = engine.last("POST")
    assert request.query == {"container": container, "repo": "team/snapshot", "tag": "latest",
                             "comment": "[moby.engine commit {0}]".format(result["fingerprint"]), "author": "ci",
                             "pause": "1", "changes": ["ENV A=2"]}
    # The fields the engine would drop from a config are taken from the container's.
    assert request.body == {"Shell": ["/bin/ash", "-c"], "Labels": {"release": "1"}}
    image = engine.image("team/snapshot:latest")
    assert image["Config"]["Labels"] == {"release": "1"}
    assert "A=2" in image["Config"]["Env"]
    assert result["changed"] is True and result["container"] == container
    assert result["diff"] == {"before": {"tag": "team/snapshot:latest", "id": None, "fingerprint": None},
                              "after": {"tag": "team/snapshot:latest", "id": image["Id"],
                                        "fingerprint": result["fingerprint"]}}
    again = commit(client, config={"Labels": {"release": "1"}}, changes=["ENV A=2"], author="ci")
    assert again["changed"] is False
    assert len(engine.mutations()) == 1
    # pause does not shape the image.
    assert commit(client, config={"Labels": {"release": "1"}}, changes=["ENV A=2"], author="ci",
                  pause=False)["changed"] is False


def test_other_inputs_commit_again(docker, commit):
    client, engine = docker
    web(engine)
    commit(client, comment="one")
    result = commit(client, comment="two")
    assert result["changed"] is True
    assert engine.image("team/snapshot:latest")["Comment"] == "two [moby.engine commit {0}]".format(
        result["fingerprint"])


def test_podman_applies_the_config_as_changes(podman, commit):
    client, engine = podman
    web(engine)
    commit(client, config={"Labels": {"release": "1"}})
    assert engine.last("POST").query["changes"] == ['LABEL "release"="1"']
    assert engine.image("team/snapshot:latest")["Config"]["Labels"] == {"release": "1"}
    with pytest.raises(UnsupportedByEngine):
        commit(client, config={"Healthcheck": {"Test": ["CMD", "true"]}})
    assert len(engine.mutations()) == 1


def test_check_mode_predicts_and_commits_nothing(docker, commit):
    client, engine = docker
    web(engine)
    before = engine.snapshot()
    result = commit(client, check_mode=True, tag="2")
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True
    assert result["diff"]["after"] == {"tag": "team/snapshot:2", "id": None, "fingerprint": result["fingerprint"]}


def test_missing_container(docker, commit):
    client, engine = docker
    with pytest.raises(NotFound) as exc:
        commit(client, container="nope")
    assert str(exc.value) == "no such container nope; check the name, or create the container first"
    assert engine.mutations() == []


@pytest.mark.parametrize("params, message", [
    ({"config": {"Cmd": ["sh"], "Lables": {}}}, "config has unknown fields Lables; the engine's fields are"),
    ({"changes": ["COPY . /"]}, "changes[0] 'COPY . /' is not an instruction the engine accepts here"),
    ({"repository": "Team/Snapshot"}, "lower case"),
])
def test_bad_input_is_refused_before_any_request(docker, commit, params, message):
    client, engine = docker
    web(engine)
    with pytest.raises(InvalidInput) as exc:
        commit(client, **params)
    assert message in str(exc.value)
    assert engine.requests == []
