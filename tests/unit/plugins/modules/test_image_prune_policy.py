# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_prune's retention policy (issue 15): the pure selection, the options read, and the removal run."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._retention import Policy, decide, read_policy, retention_seconds
from ansible_collections.moby.engine.plugins.modules.image_prune import OPTIONS, run

NOW = 1718000000.0
DAY = 86400


def image_id(name):
    """A full sha256 id, distinct per name (the hex digits of the name's letters' codes)."""
    return "sha256:" + "".join("{0:02x}".format(ord(char)) for char in name).ljust(64, "0")[:64]


def summary(name, created, tags, size=100, digests=None, parent=""):
    return {"Id": image_id(name), "Created": created, "RepoTags": tags, "RepoDigests": digests or [],
            "Size": size, "ParentId": parent, "Labels": None, "Containers": -1}


def policy(**options):
    params = {"keep_last": None, "keep_newer_than": None, "repositories": None, "protect": None}
    params.update(options)
    return read_policy(params)


def removed(selection):
    return dict(selection["removals"])


# Three repositories: app (five releases, one untagged image), web (two), and a registry's team/api (two).
APP = [summary("a1", NOW - 50 * DAY, ["app:1"], size=10), summary("a2", NOW - 40 * DAY, ["app:2"], size=20),
       summary("a3", NOW - 30 * DAY, ["app:3", "app:stable"], size=30), summary("a4", NOW - 2 * DAY, ["app:4"], size=40),
       summary("a5", NOW - DAY, ["app:5", "app:latest"], size=50), summary("dangling", NOW - 90 * DAY, ["<none>:<none>"])]
WEB = [summary("w1", NOW - 60 * DAY, ["web:1"]), summary("w2", NOW - 10 * DAY, ["web:2"])]
API = [summary("t1", NOW - 60 * DAY, ["registry.example.com/team/api:1"]),
       summary("t2", NOW - 5 * DAY, ["registry.example.com/team/api:2"])]
ALL = APP + WEB + API


def test_keep_last_per_repository():
    selection, reason = decide(ALL, [], policy(keep_last=2), NOW)
    assert removed(selection) == {image_id("a1"): ["app:1"], image_id("a2"): ["app:2"],
                                  image_id("a3"): ["app:3", "app:stable"]}
    assert selection["deleted"] == [image_id("a1"), image_id("a2"), image_id("a3")]
    assert selection["untagged"] == ["app:1", "app:2", "app:3", "app:stable"]
    assert selection["space_reclaimed"] == 60
    # The untagged image is the engine's own prune's business; web and team/api have two images each.
    assert image_id("dangling") not in removed(selection)
    assert "3 image(s) to delete and 0 to untag only (4 tag(s))" in reason
    kept = {entry["id"]: entry for entry in selection["kept"]}
    assert kept[image_id("a5")]["tags"] == ["app:5", "app:latest"]
    assert kept[image_id("a5")]["reasons"] == ["one of the 2 newest of app"]
    assert selection["repositories"] == {"app": ["app:1", "app:2", "app:3", "app:4", "app:5", "app:latest", "app:stable"]}


def test_two_tags_of_one_repository_count_once():
    selection, _reason = decide(APP, [], policy(keep_last=3), NOW)
    # a5 (two tags), a4 and a3 (two tags) are the three newest.
    assert selection["deleted"] == [image_id("a1"), image_id("a2")]


def test_ties_in_created_keep_every_image_of_the_last_place():
    images = [summary("x1", 100, ["x:1"]), summary("x2", 200, ["x:2"]), summary("x3", 200, ["x:3"]),
              summary("x4", 300, ["x:4"])]
    selection, _reason = decide(images, [], policy(keep_last=2), NOW)
    assert selection["deleted"] == [image_id("x1")]
    selection, _reason = decide(images, [], policy(keep_last=1), NOW)
    assert selection["deleted"] == [image_id("x1")] + sorted([image_id("x2"), image_id("x3")])


def test_keep_last_zero_and_order_of_removal_is_oldest_first():
    images = [summary("y2", 200, ["y:2"]), summary("y1", 100, ["y:1"])]
    selection, _reason = decide(images, [], policy(keep_last=0), NOW)
    assert selection["deleted"] == [image_id("y1"), image_id("y2")]


def test_images_in_use_are_kept_and_still_count_for_keep_last():
    containers = [{"Id": "c1", "ImageID": image_id("a1")}, {"Id": "c2", "ImageID": image_id("a5")[len("sha256:"):]}]
    selection, reason = decide(APP, containers, policy(keep_last=2), NOW)
    # a5 and a4 are the two newest; a1 is in use; a5 in use too (Podman's bare id), which changes nothing for a3.
    assert selection["deleted"] == [image_id("a2"), image_id("a3")]
    kept = {entry["id"]: entry["reasons"] for entry in selection["kept"]}
    assert kept[image_id("a1")] == ["used by a container"]
    assert kept[image_id("a5")] == ["used by a container"]
    assert "1 among the newest of their repository" in reason and "2 used by a container" in reason


@pytest.mark.parametrize("protect", [["app:1"], ["docker.io/library/app:1"], [image_id("a1")],
                                     [image_id("a1")[len("sha256:"):][:12]], [image_id("a1")[:19]]])
def test_protect_by_name_and_by_id(protect):
    selection, _reason = decide(APP, [], policy(keep_last=2, protect=protect), NOW)
    assert image_id("a1") not in removed(selection)
    assert selection["deleted"] == [image_id("a2"), image_id("a3")]
    assert {"id": image_id("a1"), "tags": ["app:1"], "reasons": ["protected"]} in selection["kept"]


def test_protect_by_one_tag_keeps_every_tag_of_the_image():
    selection, _reason = decide(APP, [], policy(keep_last=1, protect=["app:stable"]), NOW)
    assert image_id("a3") not in removed(selection)


def test_protect_by_digest_and_a_name_without_tag_means_latest():
    digest = "sha256:" + "d" * 64
    images = [summary("p1", 100, ["p:1"], digests=["p@" + digest]), summary("p2", 150, ["p:latest"]),
              summary("p3", 200, ["p:3"])]
    selection, _reason = decide(images, [], policy(keep_last=0, protect=["p@" + digest, "p"]), NOW)
    assert removed(selection) == {image_id("p3"): ["p:3"]}


def test_keep_newer_than():
    selection, _reason = decide(APP, [], policy(keep_newer_than="7d"), NOW)
    assert selection["deleted"] == [image_id("a1"), image_id("a2"), image_id("a3")]
    selection, _reason = decide(APP, [], policy(keep_newer_than="1000h"), NOW)  # 41.7 days
    assert selection["deleted"] == [image_id("a1")]


def test_keep_last_or_keep_newer_than_keeps():
    selection, _reason = decide(APP, [], policy(keep_last=1, keep_newer_than="35d"), NOW)
    # a5 by count, a4 and a3 by age.
    assert selection["deleted"] == [image_id("a1"), image_id("a2")]
    kept = {entry["id"]: entry["reasons"] for entry in selection["kept"]}
    assert kept[image_id("a5")] == ["one of the 1 newest of app", "newer than keep_newer_than"]


def test_image_created_exactly_at_the_limit_is_kept():
    images = [summary("e1", NOW - 3600, ["e:1"]), summary("e2", NOW - 3601, ["e:2"])]
    selection, _reason = decide(images, [], policy(keep_newer_than="1h"), NOW)
    assert selection["deleted"] == [image_id("e2")]


APP_OLD, WEB_OLD, API_OLD = {"a1", "a2", "a3", "a4"}, {"w1"}, {"t1"}


@pytest.mark.parametrize("patterns, expected", [
    (None, APP_OLD | WEB_OLD | API_OLD),
    (["app"], APP_OLD),
    (["web", "app"], APP_OLD | WEB_OLD),
    (["registry.example.com/team/*"], API_OLD),
    (["*"], APP_OLD | WEB_OLD),  # * does not cross '/': registry.example.com/team/api is not matched
    (["registry.example.com/*/api"], API_OLD),
    (["registry.example.com/team"], set()),
    (["ap?"], APP_OLD),
    (["[v-z]eb"], WEB_OLD),
    (["docker.io/library/app"], set()),  # matched on the familiar name, as the engine's reference filter does
    (["app:*"], APP_OLD),
])
def test_repositories_patterns_keep_last_one(patterns, expected):
    selection, _reason = decide(ALL, [], policy(keep_last=1, repositories=patterns), NOW)
    assert set(removed(selection)) == {image_id(name) for name in expected}


def test_repositories_pattern_alone_selects_every_unused_image_it_matches():
    containers = [{"ImageID": image_id("t2")}]
    selection, _reason = decide(ALL, containers, policy(repositories=["registry.example.com/team/*"]), NOW)
    assert selection["deleted"] == [image_id("t1")]
    selection, reason = decide(ALL, [], policy(repositories=["nothing/*"]), NOW)
    assert selection["removals"] == [] and reason == "the retention policy finds no tagged image in scope"


def test_a_tag_pattern_counts_among_the_matching_tags():
    images = [summary("r1", 100, ["app:rc-1"]), summary("r2", 200, ["app:rc-2"]), summary("r3", 300, ["app:rc-3"]),
              summary("f1", 50, ["app:1.0"])]
    selection, _reason = decide(images, [], policy(keep_last=2, repositories=["app:rc-*"]), NOW)
    assert removed(selection) == {image_id("r1"): ["app:rc-1"]}


def test_an_image_also_tagged_outside_the_selection_is_only_untagged():
    images = [summary("m1", 100, ["app:1", "mirror/app:1"], size=70), summary("m2", 200, ["app:2"]),
              summary("m3", 300, ["app:3"])]
    selection, reason = decide(images, [], policy(keep_last=1, repositories=["app"]), NOW)
    assert removed(selection) == {image_id("m1"): ["app:1"], image_id("m2"): ["app:2"]}
    assert selection["deleted"] == [image_id("m2")]
    assert selection["space_reclaimed"] == 100
    assert "1 image(s) to delete and 1 to untag only (2 tag(s))" in reason


def test_an_image_in_two_selected_repositories_is_decided_in_each():
    images = [summary("s1", 100, ["one:old", "two:new"]), summary("s2", 200, ["one:new"]),
              summary("s3", 50, ["two:old"])]
    selection, _reason = decide(images, [], policy(keep_last=1), NOW)
    # s1 is the newest of two (kept there) but not of one: only one:old goes, and the image stays.
    assert removed(selection) == {image_id("s3"): ["two:old"], image_id("s1"): ["one:old"]}
    assert selection["deleted"] == [image_id("s3")]
    assert selection["repositories"] == {"one": ["one:new", "one:old"], "two": ["two:new", "two:old"]}


def test_digest_of_another_repository_or_a_child_image_keeps_the_image():
    digest = "sha256:" + "e" * 64
    images = [summary("d1", 100, ["d:1"], digests=["d@" + digest, "elsewhere/d@" + digest]),
              summary("d2", 110, ["d:2"]), summary("child", 120, ["<none>:<none>"], parent=image_id("d2")),
              summary("d3", 300, ["d:3"])]
    selection, _reason = decide(images, [], policy(keep_last=1), NOW)
    assert removed(selection) == {image_id("d1"): ["d:1"], image_id("d2"): ["d:2"]}
    assert selection["deleted"] == []


def test_a_second_decision_after_the_removal_selects_nothing():
    selection, _reason = decide(ALL, [], policy(keep_last=2), NOW)
    gone = set(selection["untagged"])
    after = [dict(image, RepoTags=[tag for tag in image["RepoTags"] if tag not in gone]) for image in ALL
             if image["Id"] not in selection["deleted"]]
    again, reason = decide(after, [], policy(keep_last=2), NOW)
    assert again["removals"] == [] and reason.startswith("the retention policy selects nothing; 6 image(s) kept")


@pytest.mark.parametrize("text, seconds", [
    ("7d", 7 * DAY), ("1d12h", 1.5 * DAY), ("1.5d", 1.5 * DAY), ("36h", 36 * 3600), ("1h30m", 5400), ("90m", 5400),
    ("0", 0), ("0d", 0), (" 2h ", 7200),
])
def test_retention_seconds(text, seconds):
    assert retention_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "7", "3600", "d", "7days", "1w", "-1h", "1h7d", "7d-1h", "soon"])
def test_retention_seconds_refuses_what_is_no_duration(text):
    with pytest.raises(InvalidInput, match="is not a duration"):
        retention_seconds(text)


@pytest.mark.parametrize("options, message", [
    ({"protect": ["app:1"]}, "protect only narrows a retention policy"),
    ({"repositories": []}, "protect only narrows a retention policy"),
    ({"keep_last": 1, "repositories": ["app[a-"]}, "is not a valid pattern"),
    ({"keep_last": 1, "repositories": [""]}, "is not a valid pattern"),
    ({"keep_last": 1, "protect": ["Not A Name"]}, "white space"),
    ({"keep_newer_than": "a week"}, "is not a duration"),
])
def test_read_policy_refuses(options, message):
    with pytest.raises(InvalidInput, match=message):
        policy(**options)


def test_no_policy_option_means_the_engines_prune():
    assert policy() is None


def test_read_policy_reads_protect_both_ways():
    short = image_id("a1")[len("sha256:"):][:12]
    read = policy(keep_last=1, protect=[short, "sha256:" + short, "app", "busybox@sha256:" + "f" * 64])
    assert read == Policy(keep_last=1, protect_ids=(short, short),
                          protect_names=(short + ":latest", "app:latest", "busybox@sha256:" + "f" * 64))


# -- the run, against a fake engine ------------------------------------------


def fill(engine, images):
    """Put ``summary()`` images into the shared fake engine."""
    for image in images:
        engine.add_image(*image["RepoTags"], image_id=image["Id"], size=image["Size"],
                         created=datetime.fromtimestamp(image["Created"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return engine


def deletes(engine):
    return [request.path[len("/images/"):] for request in engine.requests if request.method == "DELETE"]


@pytest.fixture
def run_task(make_task):
    def go(client, check_mode, **options):
        task = make_task(client, OPTIONS, check_mode, **options)
        return run(task), task

    return go


def test_check_mode_lists_what_the_real_run_removes_and_a_second_run_is_unchanged(docker, run_task):
    client, engine = docker
    images = [summary("m1", 100, ["app:1", "mirror/app:1"], size=70), summary("m2", 200, ["app:2", "app:two"], size=5),
              summary("m3", 300, ["app:3"]), summary("o1", 10, ["other:1"])]
    fill(engine, images)
    before = engine.snapshot()
    check, _task = run_task(client, True, keep_last=1, repositories=["app"])
    assert deletes(engine) == [] and engine.snapshot() == before
    real, _task = run_task(client, False, keep_last=1, repositories=["app"])
    for key in ("images_deleted", "images_untagged", "space_reclaimed", "reason", "images_kept", "diff"):
        assert check[key] == real[key], key
    assert real["changed"] and real["images_deleted"] == [image_id("m2")] and real["space_reclaimed"] == 5
    assert real["images_untagged"] == ["app:1", "app:2", "app:two"]
    assert real["diff"] == {"before": {"repositories": {"app": ["app:1", "app:2", "app:3", "app:two"]}},
                            "after": {"repositories": {"app": ["app:3"]}}}
    assert all(request.query == {"force": "0", "noprune": "1"} for request in engine.requests
               if request.method == "DELETE")
    assert engine.images[image_id("m1")]["RepoTags"] == ["mirror/app:1"]
    assert image_id("o1") in engine.images
    again, _task = run_task(client, False, keep_last=1, repositories=["app"])
    assert not again["changed"] and again["images_untagged"] == [] and again["diff"]["before"] == {"repositories": {}}


def test_a_conflict_or_a_moved_tag_leaves_the_image_with_a_warning(docker, run_task):
    client, engine = docker
    fill(engine, [summary("c1", 100, ["app:1"]), summary("c2", 200, ["app:2"]), summary("c3", 300, ["app:3"])])
    created = []

    def container_created_first(request):
        # A container made from app:1 since the listing: the engine refuses.
        created.append(engine.add_container("web", "app:1", running=False))
        return engine.remove_image(request, "app:1")

    def list_then_move(request):
        listed = engine.list_images(request)
        # app:2 is moved onto c3 between the listing and the removal.
        engine.add_image("app:2", image_id=image_id("c3"))
        return listed

    engine.on("GET", "/images/json", list_then_move, times=1)
    engine.on("DELETE", "/images/app:1", container_created_first, times=1)
    result, task = run_task(client, False, keep_last=1)
    assert not result["changed"] and result["images_deleted"] == [] and result["space_reclaimed"] == 0
    assert deletes(engine) == ["app:1"]
    assert task.warnings == [
        'app:1 left alone: conflict: unable to remove repository reference "app:1" (must force) - container {0} is '
        "using its referenced image {1}".format(created[0][:12], image_id("c1")[7:19]),
        "app:2 left alone: it names {0} now, not {1}".format(image_id("c3"), image_id("c2"))]
