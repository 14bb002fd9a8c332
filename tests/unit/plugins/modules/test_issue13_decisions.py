# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure decisions fixed in the security and correctness round: commit config, id filters, remove by short id."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.moby.engine.plugins.modules.build_cache_prune import engine_filters
from ansible_collections.moby.engine.plugins.modules.image_commit import kept_fields
from ansible_collections.moby.engine.plugins.modules.image_remove import names_id, refuse_like_engine

IMAGE_ID = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741"
CONTAINER = {"Config": {"Cmd": ["sh"], "OnBuild": ["RUN true"], "Shell": ["/bin/ash", "-c"], "StopTimeout": 30,
                        "Env": ["A=1"], "Hostname": "abc"}}


def test_kept_fields_are_what_the_engine_would_drop():
    assert kept_fields({"Cmd": ["top"]}, CONTAINER) == {
        "OnBuild": ["RUN true"], "Shell": ["/bin/ash", "-c"], "StopTimeout": 30}


def test_kept_fields_leave_the_user_s_own_and_nothing_without_config():
    assert kept_fields({"Shell": ["/bin/sh", "-c"], "StopTimeout": 5}, CONTAINER) == {"OnBuild": ["RUN true"]}
    # Without config the engine takes the container's whole configuration itself.
    assert kept_fields({}, CONTAINER) == {}
    assert kept_fields({"Cmd": ["top"]}, {"Config": {"OnBuild": None, "Shell": []}}) == {}


def test_invalid_id_filter_is_refused_before_any_request():
    with pytest.raises(InvalidInput, match=r"filters.id '\[unclosed' is not a valid regular expression"):
        engine_filters({"id": "[unclosed"})
    assert engine_filters({"id": "^abc"}) == {"id": ["^abc"]}


@pytest.mark.parametrize("name, by_id", [
    ("3f57d9401f8d", True), ("sha256:3f57d9401f8d", True), (IMAGE_ID, True), ("3F57D9401F8D", False),
    ("3f57d9401f8e", False), ("app:1", False), ("busybox", False),
])
def test_names_id(name, by_id):
    assert names_id(name, {"Id": IMAGE_ID}) is by_id


def test_check_mode_predicts_the_conflict_of_a_short_id_with_two_tags():
    image = {"Id": IMAGE_ID, "RepoTags": ["app:1", "app:2"]}
    with pytest.raises(Conflict, match=r"unable to delete 3f57d9401f8d \(must be forced\) - image is referenced in "
                                       r"multiple repositories"):
        refuse_like_engine(image, "3f57d9401f8d", force=False)
    refuse_like_engine(image, "3f57d9401f8d", force=True)
    refuse_like_engine(image, "app:1", force=False)
    refuse_like_engine({"Id": IMAGE_ID, "RepoTags": ["app:1"]}, "3f57d9401f8d", force=False)
