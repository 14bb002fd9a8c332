# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Retention pruning (image_prune's policy): which tagged images of which repositories go, decided purely
from the engine's image and container listings, so that check mode lists exactly what a real run removes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ansible_collections.moby.engine.plugins.module_utils._engines import reference_matches
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._filters import go_duration
from ansible_collections.moby.engine.plugins.module_utils._references import looks_like_image_id, parse_image_name

POLICY_OPTIONS = ("keep_last", "keep_newer_than", "repositories", "protect")


@dataclass(frozen=True)
class Policy:
    """A retention policy, read and checked: what decide() keeps."""

    repositories: tuple = ()  # reference patterns; empty: every repository
    keep_last: Optional[int] = None
    keep_newer_than: Optional[float] = None  # seconds
    protect_ids: tuple = ()  # hex id prefixes, without sha256:
    protect_names: tuple = ()  # familiar repo:tag or repo@digest, as in RepoTags and RepoDigests


_DAYS_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)d(.*)$")


def retention_seconds(text: str) -> float:
    """Seconds of a keep_newer_than value: a Go duration (``36h``, ``1h30m``), optionally after days (``7d``, ``1d12h``)."""
    rest, days = text.strip(), 0.0
    match = _DAYS_RE.match(rest)
    if match:
        days, rest = float(match.group(1)), match.group(2)
    seconds = 0.0 if match and not rest else go_duration(rest)
    if seconds is None:
        raise InvalidInput("keep_newer_than {0!r} is not a duration: give days and a Go duration such as 7d, 1d12h, "
                           "36h or 90m (a number needs a unit)".format(text))
    return days * 86400 + seconds


def read_pattern(pattern: str) -> str:
    """A repositories pattern, refused when Go's path.Match would call it malformed."""
    unclosed = re.search(r"\[[^\]]*$", pattern)
    if not pattern or pattern != pattern.strip() or unclosed or pattern.endswith("\\"):
        raise InvalidInput("repositories pattern {0!r} is not a valid pattern: give a repository name in which * and "
                           "? match within one path component and [...] a character class".format(pattern))
    return pattern


def read_policy(params: dict) -> Optional[Policy]:
    """The retention policy of the options, or None when none is given (the engine's prune, with filters)."""
    if all(params.get(option) is None for option in POLICY_OPTIONS):
        return None
    if params.get("keep_last") is None and params.get("keep_newer_than") is None and not params.get("repositories"):
        # protect alone would select every other tagged image on the engine.
        raise InvalidInput("protect only narrows a retention policy: give keep_last, keep_newer_than or "
                           "repositories as well")
    ids, names = [], []
    for item in params.get("protect") or []:
        if looks_like_image_id(item):
            ids.append(item.split(":")[-1])
        ref = parse_image_name(item)
        if ref is not None:
            # A short id that also parses as a name (3f57d9401f8d) protects under both readings.
            names.append("{0}@{1}".format(ref.familiar_repository, ref.digest) if ref.digest else ref.familiar_tagged())
    keep_newer_than = params.get("keep_newer_than")
    return Policy(repositories=tuple(read_pattern(pattern) for pattern in params.get("repositories") or []),
                  keep_last=params.get("keep_last"),
                  keep_newer_than=None if keep_newer_than is None else retention_seconds(keep_newer_than),
                  protect_ids=tuple(ids), protect_names=tuple(names))


def real_tags(image: dict) -> list:
    return [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]


def repository_of(tag: str) -> str:
    # RepoTags entries always end in :tag, and a tag holds neither ':' nor '/'.
    return tag.rpartition(":")[0]


def hex_id(image_id: str) -> str:
    """An image id without its sha256: prefix (Podman's containers may give it bare)."""
    return str(image_id or "").rsplit(":", maxsplit=1)[-1]


def image_keeps(image: dict, in_use: set, policy: Policy) -> list:
    """What keeps the whole image, whatever repository: a container, or protect."""
    reasons = []
    if hex_id(image["Id"]) in in_use:
        reasons.append("used by a container")
    names = set(real_tags(image)) | set(image.get("RepoDigests") or [])
    if names.intersection(policy.protect_names) or any(hex_id(image["Id"]).startswith(prefix) for prefix in policy.protect_ids):
        reasons.append("protected")
    return reasons


def repository_keeps(image: dict, repository: str, members: list, policy: Policy, now: float) -> list:
    """What keeps the image's tags in one repository: keep_last among the repository's images, keep_newer_than."""
    reasons = []
    created = image.get("Created") or 0
    if policy.keep_last is not None and sum(1 for other in members if (other.get("Created") or 0) > created) < policy.keep_last:
        reasons.append("one of the {0} newest of {1}".format(policy.keep_last, repository))
    if policy.keep_newer_than is not None and created >= now - policy.keep_newer_than:
        reasons.append("newer than keep_newer_than")
    return reasons


def decide(images: list, containers: list, policy: Policy, now: float) -> tuple:
    """The retention decision, pure: (selection, reason).

    ``images`` are GET /images/json summaries (all=1, so that parents are known), ``containers`` GET
    /containers/json?all=1. The selection says which tags go (``removals``: (id, tags) in the order to remove
    them; an image goes with its last tag), which images the engine deletes with them (``deleted``), their
    summed ``Size``, the touched images' summaries, the images kept and why, and each touched repository's tags.
    """
    by_id = {image["Id"]: image for image in images}
    scope = _scope(images, policy)
    selected, reasons = _select(scope, by_id, {hex_id(container.get("ImageID")) for container in containers},
                                policy, now)
    removals, deleted = _removals(selected, by_id, {image.get("ParentId") for image in images if image.get("ParentId")})
    removed = {tag for _image_id, tags in removals for tag in tags}
    touched = sorted({repository_of(tag) for tag in removed})
    kept = [{"id": image_id, "tags": sorted(tag for repository in scope for tag in scope[repository].get(image_id, [])),
             "reasons": reasons[image_id]} for image_id in sorted(reasons) if image_id not in selected]
    selection = {
        "removals": removals,
        "deleted": deleted,
        "untagged": [tag for _image_id, tags in removals for tag in tags],
        "space_reclaimed": sum(by_id[image_id].get("Size") or 0 for image_id in deleted),
        "images": [by_id[image_id] for image_id, _tags in removals],
        "kept": kept,
        "repositories": {repository: sorted(tag for tags in scope[repository].values() for tag in tags)
                         for repository in touched},
    }
    return selection, retention_reason(selection, bool(scope))


def _scope(images: list, policy: Policy) -> dict:
    """{repository: {image id: [its tags in scope]}}."""
    scope: dict = {}
    for image in images:
        for tag in real_tags(image):
            if not policy.repositories or reference_matches(tag, list(policy.repositories)):
                scope.setdefault(repository_of(tag), {}).setdefault(image["Id"], []).append(tag)
    return scope


def _select(scope: dict, by_id: dict, in_use: set, policy: Policy, now: float) -> tuple:
    """({image id: [tags to remove]}, {image id: [why it is kept]}), each repository deciding on its own."""
    selected: dict = {}
    reasons: dict = {}
    for repository in sorted(scope):
        members = [by_id[image_id] for image_id in scope[repository]]
        for image in members:
            why = image_keeps(image, in_use, policy) or repository_keeps(image, repository, members, policy, now)
            if why:
                known = reasons.setdefault(image["Id"], [])
                known.extend(reason for reason in why if reason not in known)
            else:
                selected.setdefault(image["Id"], []).extend(scope[repository][image["Id"]])
    return selected, reasons


def _removals(selected: dict, by_id: dict, parents: set) -> tuple:
    """([(image id, tags)] oldest first, [ids the engine deletes with their last tag])."""
    removals, deleted = [], []
    for image_id in sorted(selected, key=lambda image_id: (by_id[image_id].get("Created") or 0, image_id)):
        image, tags = by_id[image_id], sorted(selected[image_id])
        tag_repositories = {repository_of(tag) for tag in real_tags(image)}
        digest_repositories = {digest.partition("@")[0] for digest in image.get("RepoDigests") or []}
        # The engine deletes the image with its last tag, unless a digest of another repository or a child holds it.
        if set(tags) == set(real_tags(image)) and digest_repositories <= tag_repositories and image_id not in parents:
            deleted.append(image_id)
        removals.append((image_id, tags))
    return removals, deleted


def retention_reason(selection: dict, in_scope: bool) -> str:
    kept = "{0} image(s) kept".format(len(selection["kept"]))
    if selection["kept"]:
        counts: dict = {}
        for entry in selection["kept"]:
            first = entry["reasons"][0]
            first = "among the newest of their repository" if first.startswith("one of the") else first
            counts[first] = counts.get(first, 0) + 1
        kept += " (" + ", ".join("{0} {1}".format(count, why) for why, count in sorted(counts.items())) + ")"
    if not selection["removals"]:
        if not in_scope:
            return "the retention policy finds no tagged image in scope"
        return "the retention policy selects nothing; " + kept
    untag_only = len(selection["removals"]) - len(selection["deleted"])
    return "the retention policy selects {0} image(s) to delete and {1} to untag only ({2} tag(s)); {3}".format(
        len(selection["deleted"]), untag_only, len(selection["untagged"]), kept)


def tags_diff(repositories: dict, removed: list) -> dict:
    """Diff mode: the tags of each repository the policy touches, before and after."""
    gone = set(removed)
    return {"before": {"repositories": repositories},
            "after": {"repositories": {repository: [tag for tag in tags if tag not in gone]
                                       for repository, tags in repositories.items()}}}
