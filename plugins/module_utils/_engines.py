# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which engine answers, and the one place where its answers are made to look like Docker's.

Docker Engine and Podman's Docker-compatible service speak the same API, but Podman answers
differently in places: fully qualified names (``localhost/app:1`` for a name it made without
registry, ``docker.io/app:1`` for one given through this API, ``docker.io/library/busybox:1``), extra
keys in image summaries, a looser ``reference`` filter, ids without ``sha256:``, no aux record after
a push, other error wordings, and a commit that ignores the container configuration.  The client
passes Podman's answers through the functions here, so modules and playbooks see Docker's answers
on every engine; docs/docsite/rst/guide_compatibility.rst lists every difference.

Version gates live here too: ``MISSING_FEATURES`` says what each kind of engine lacks and why, and
``unmet_requirement`` checks a module's requirements table against the engine that answered.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import UnsupportedApiVersion, UnsupportedByEngine

DOCKER = "Docker"
PODMAN = "Podman"

# Podman qualifies a name without registry with this pseudo-registry; nothing can be pushed there.
PODMAN_LOCAL_DOMAIN = "localhost/"
_DOCKER_HUB_PREFIXES = ("docker.io/library/", "docker.io/")
# Keys Podman adds to GET /images/json entries that Docker never sends (History there is a list of
# names and would also clash with image_info's history option).
PODMAN_ONLY_SUMMARY_KEYS = ("Names", "Digest", "History")
_BARE_ID_RE = re.compile(r"^[0-9a-f]{64}$")
_SERVER_RE = re.compile(r"^(?P<product>[A-Za-z]+)/(?P<version>[^ ]+)")


@dataclass(frozen=True)
class EngineIdentity:
    """The product and version behind docker_host, as its /_ping answer reveals them."""

    product: str = DOCKER
    version: str = ""

    @property
    def is_podman(self) -> bool:
        return self.product == PODMAN

    def describe(self, api_version: str | None) -> str:
        """``Podman 4.3.1 (API 1.41)``, for messages about what this engine cannot do."""
        text = "{0} {1}".format(self.product, self.version or "(version unknown)")
        return text + " (API {0})".format(api_version) if api_version else text


def identify_engine(ping_headers: Mapping[str, str]) -> EngineIdentity:
    """Tell Docker from Podman by the headers of GET /_ping (no extra request).

    Podman's service sends ``Libpod-Api-Version`` and ``Server: Libpod/4.3.1 (linux)``; dockerd sends
    ``Server: Docker/20.10.24+dfsg1 (linux)``.
    """
    server = _SERVER_RE.match(ping_headers.get("Server") or "")
    if ping_headers.get("Libpod-Api-Version") or (server and server.group("product").lower() == "libpod"):
        return EngineIdentity(PODMAN, ping_headers.get("Libpod-Api-Version") or (
            server.group("version") if server else ""))
    return EngineIdentity(DOCKER, server.group("version") if server else "")


def familiar_name(name: str) -> str:
    """Podman's fully qualified image name in Docker's familiar spelling (``localhost/app:1`` -> ``app:1``)."""
    if name.startswith(PODMAN_LOCAL_DOMAIN):
        return name[len(PODMAN_LOCAL_DOMAIN):]
    for prefix in _DOCKER_HUB_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def normalize_image(image: Any, engine: EngineIdentity) -> Any:
    """Inspect data or an image summary as Docker would send it; Docker's own answers pass unchanged."""
    if not engine.is_podman or not isinstance(image, dict):
        return image
    normalized = {key: value for key, value in image.items() if key not in PODMAN_ONLY_SUMMARY_KEYS}
    if isinstance(image.get("RepoTags"), list):
        normalized["RepoTags"] = _unique(familiar_name(tag) for tag in image["RepoTags"])
    if isinstance(image.get("RepoDigests"), list):
        # Only the spelling changes. Podman lists name@<local manifest digest> for every name, pushed or
        # not, where Docker lists registry digests only; the compatibility guide says so.
        normalized["RepoDigests"] = _unique(familiar_name(digest) for digest in image["RepoDigests"])
    return normalized


def normalize_image_list(images: Any, engine: EngineIdentity, filters: str | None) -> Any:
    """GET /images/json as Docker answers it: summaries normalised, and the ``reference`` filter applied
    Docker's way.

    Docker keeps only the RepoTags/RepoDigests that match a ``reference`` pattern (Go's path.Match
    on the familiar name, with and without tag) and drops images none of whose names match; Podman
    matches loosely (``busybox`` finds ``localhost/team/busybox``) and returns every name of a match.
    """
    if not engine.is_podman or not isinstance(images, list):
        return images
    normalized = [normalize_image(image, engine) for image in images]
    patterns = _reference_patterns(filters)
    if not patterns:
        return normalized
    kept = []
    for image in normalized:
        tags = [tag for tag in image.get("RepoTags") or [] if _reference_matches(tag, patterns)]
        digests = [digest for digest in image.get("RepoDigests") or [] if _reference_matches(digest, patterns)]
        if tags or digests:
            kept.append(dict(image, RepoTags=tags, RepoDigests=digests))
    return kept


def _reference_patterns(filters: str | None) -> list:
    try:
        parsed = json.loads(filters) if filters else {}
    except ValueError:
        return []
    value = parsed.get("reference") if isinstance(parsed, dict) else None
    if isinstance(value, dict):  # the older {"pattern": true} spelling
        return [pattern for pattern, wanted in value.items() if wanted]
    return list(value or [])


def _reference_matches(name: str, patterns: list) -> bool:
    # Docker tries the familiar string (app:1, app@sha256:...) and the familiar name (app).
    without_digest = name.split("@", 1)[0]
    candidates = {name, without_digest, _strip_tag(without_digest)}
    return any(_path_match(pattern, candidate) for pattern in patterns for candidate in candidates)


def reference_matches(name: str, patterns: list) -> bool:
    """Whether a RepoTags entry matches one of ``reference`` filter patterns as Docker matches it (Go's path.Match
    on the familiar string, then on the familiar name); image_prune's ``repositories`` selects tags with it."""
    return _reference_matches(name, patterns)


def _strip_tag(name: str) -> str:
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def _path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: ``*`` and ``?`` never match ``/``."""
    regex = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "[" and "]" in pattern[index + 1:]:
            end = pattern.index("]", index + 1)
            body = pattern[index + 1:end]
            regex += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            regex += re.escape(pattern[index])
        else:
            regex += re.escape(char)
        index += 1
    return re.fullmatch(regex, name) is not None


def normalize_deleted(items: Any, engine: EngineIdentity) -> Any:
    """DELETE /images/{name} and POST /images/prune item lists (``{"Untagged": name}`` / ``{"Deleted": id}``).

    Podman qualifies the names and gives the ids without their ``sha256:`` prefix.
    """
    if not engine.is_podman or not isinstance(items, list):
        return items
    normalized = []
    for item in items:
        copy = dict(item) if isinstance(item, dict) else item
        if isinstance(copy, dict) and copy.get("Untagged"):
            copy["Untagged"] = familiar_name(copy["Untagged"])
        if isinstance(copy, dict) and _BARE_ID_RE.match(str(copy.get("Deleted") or "")):
            copy["Deleted"] = "sha256:" + copy["Deleted"]
        normalized.append(copy)
    return normalized


def normalize_history(entries: Any, engine: EngineIdentity, image_id: str | None = None) -> Any:
    """GET /images/{name}/history entries as Docker sends them.

    Podman gives ids without their ``sha256:`` prefix (Docker: ``sha256:<hex>``, or ``<missing>`` for a
    layer built elsewhere), fully qualified Tags, and for some images (imported with changes) a layer's
    id on the newest entry where Docker puts the image's own id: ``image_id``, when known, goes there.
    """
    if not engine.is_podman or not isinstance(entries, list):
        return entries
    normalized = []
    for index, entry in enumerate(entries):
        copy = dict(entry)
        if index == 0 and image_id:
            copy["Id"] = image_id
        elif _BARE_ID_RE.match(str(copy.get("Id") or "")):
            copy["Id"] = "sha256:" + copy["Id"]
        if isinstance(copy.get("Tags"), list):
            copy["Tags"] = _unique(familiar_name(tag) for tag in copy["Tags"])
        normalized.append(copy)
    return normalized


# dockerd's push stream ends with this status line and an aux {"Tag", "Digest", "Size"}; Podman's
# sends only the line.
_PUSHED_STATUS_RE = re.compile(r"^(?P<tag>[^\s:]+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: (?P<size>\d+)$")


def pushed_aux(messages: list, aux: list) -> list:
    """The push stream's aux records, with the one Podman and the containerd image store leave out rebuilt from
    the status line."""
    if any(isinstance(item, dict) and item.get("Digest") for item in aux):
        return aux
    for message in messages:
        match = _PUSHED_STATUS_RE.match(str(message))
        if match:
            return aux + [{"Tag": match.group("tag"), "Digest": match.group("digest"),
                           "Size": int(match.group("size"))}]
    return aux


def config_as_changes(config: Mapping[str, Any]) -> tuple:
    """(Dockerfile instructions that apply ``config``, the fields no instruction can express).

    Podman's service ignores the container configuration in the body of POST /commit but applies
    ``changes``; these are the instructions dockerd would have applied from the body.
    """
    changes: list = []
    untranslatable = []
    for key, value in config.items():
        if value in (None, "", [], {}):
            continue
        if key in ("Cmd", "Entrypoint"):
            instruction = key.upper()
            changes.append("{0} {1}".format(instruction, json.dumps(value) if isinstance(value, list) else value))
        elif key == "Env":
            for item in value:
                name, _sep, text = str(item).partition("=")
                changes.append("ENV {0}={1}".format(name, json.dumps(text)))
        elif key == "Labels":
            changes.extend("LABEL {0}={1}".format(json.dumps(str(name)), json.dumps(str(text)))
                           for name, text in value.items())
        elif key in _CONFIG_INSTRUCTIONS:
            changes.append("{0} {1}".format(_CONFIG_INSTRUCTIONS[key], value))
        elif key == "ExposedPorts":
            changes.extend("EXPOSE {0}".format(port) for port in value)
        elif key == "Volumes":
            changes.append("VOLUME {0}".format(json.dumps(sorted(value))))
        elif key == "OnBuild":
            changes.extend("ONBUILD {0}".format(trigger) for trigger in value)
        else:
            untranslatable.append(key)
    return changes, sorted(untranslatable)


_CONFIG_INSTRUCTIONS = {"WorkingDir": "WORKDIR", "User": "USER", "StopSignal": "STOPSIGNAL"}
# Every config field config_as_changes() can express, for the message that names the others.
TRANSLATABLE_CONFIG_FIELDS = tuple(sorted(("Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts", "Volumes", "OnBuild")
                                          + tuple(_CONFIG_INSTRUCTIONS)))


def commit_request(engine: EngineIdentity, query: Mapping[str, Any], config: Mapping[str, Any] | None,
                   kept: Mapping[str, Any] | None, where: str) -> tuple:
    """(query, body) of POST /commit that make ``engine`` apply ``config`` and keep the container's ``kept`` fields.

    Podman's service ignores the body and commits the container's own configuration (so ``kept`` needs
    nothing there); what ``config`` says goes in as Dockerfile instructions, before the caller's own changes
    (which win, as they do over the body on dockerd).
    """
    query = dict(query)
    if config and engine.is_podman:
        changes, untranslatable = config_as_changes(config)
        if untranslatable:
            raise UnsupportedByEngine(
                "config fields {0} cannot be applied by the engine at {1}, which ignores the configuration "
                "of POST /commit; only {2} can (as Dockerfile instructions). Leave them out, or use Docker".format(
                    ", ".join(untranslatable), where, ", ".join(TRANSLATABLE_CONFIG_FIELDS)))
        query["changes"] = changes + list(query.get("changes") or [])
        return query, dict(config or {})
    return query, dict(kept or {}, **(config or {}))


def import_query(query: Mapping[str, Any]) -> dict:
    """POST /images/create?fromSrc= parameters with the tag folded into ``repo``.

    Podman's service ignores ``tag`` there and tags :latest; the API lets ``repo`` carry the tag,
    which both engines honour.
    """
    folded = dict(query)
    if folded.get("repo") and folded.get("tag"):
        folded["repo"] = "{0}:{1}".format(folded["repo"], folded.pop("tag"))
    return folded


def list_digests_param(engine: EngineIdentity, digests: bool) -> bool:
    """The ``digests`` parameter of GET /images/json: Podman 4 answers digests=1 with an empty body, and
    sends RepoDigests without being asked."""
    return digests and not engine.is_podman


_LOADED_PREFIXES = ("Loaded image: ", "Loaded image ID: ")


def loaded_names(log: list) -> list:
    """The names (or ids) from a load stream's "Loaded image: ..." lines, in Docker's spelling.

    Podman reports every name on one line, "docker.io/team/app:1,docker.io/team/db:2", where Docker
    writes a line per name, spelt team/app:1 (a reference never holds a comma).
    """
    names = []
    for line in log:
        if line.startswith(_LOADED_PREFIXES[0]):
            names.extend(familiar_name(name.strip()) for name in line[len(_LOADED_PREFIXES[0]):].split(",")
                         if name.strip())
        elif line.startswith(_LOADED_PREFIXES[1]):
            names.append(line[len(_LOADED_PREFIXES[1]):].strip())
    return names


# Podman's wording of failures that dockerd words differently, and Docker's words for them, which
# are added so that messages (and playbooks matching them) mean the same on both engines.
_PODMAN_ERROR_GLOSSES = (
    (re.compile(r'unable to delete image "?[0-9a-f]+"? by ID with more than one tag'),
     "must be forced: the image is referenced in multiple repositories"),
    (re.compile(r"while running runtime: exit status (?P<code>\d+)"),
     "the command returned a non-zero code: {code}"),
)


def explain_error(message: str, engine: EngineIdentity) -> str:
    """An engine's error message, with Docker's wording added where Podman words it differently."""
    if not engine.is_podman:
        return message
    for pattern, gloss in _PODMAN_ERROR_GLOSSES:
        match = pattern.search(message)
        if match:
            return "{0} ({1})".format(message, gloss.format(**match.groupdict()))
    return message


def build_prune_params(api_version: str, filters: Optional[str], all_caches: Optional[bool],
                       keep_storage: Optional[int]) -> dict:
    """Query of POST /build/prune: API 1.48 renamed ``keep-storage`` to ``reserved-space`` (and 1.52 drops the old
    name)."""
    space_key = "reserved-space" if _version(api_version) >= (1, 48) else "keep-storage"
    return {"filters": filters, "all": all_caches, space_key: keep_storage}


def presence_platform(api_version: str, platform: Optional[str]) -> Optional[str]:
    """The ``platform`` (JSON) to send with GET /images/{name}/json to learn whether that platform of an image is
    present: from API 1.49 the engine picks it from a multi-platform image (404 when its content is absent);
    older engines ignore the parameter and answer with the single platform they keep, which the caller compares."""
    return platform if platform and _version(api_version) >= (1, 49) else None


# containerd's answer (Docker 28.5, containerd image store) to a removal whose transaction raced another task's
# change to the same content, such as two images sharing blobs removed at once; nothing was committed.
_RACED_REMOVAL = "consistency error: data changed during operation, retry"
# How many times such a removal is sent in all, and the wait before the second attempt (doubled for each next one).
RACED_REMOVAL_ATTEMPTS = 5
RACED_REMOVAL_WAIT = 0.1


def removal_raced(message: str) -> bool:
    """Whether a failed DELETE /images/{name} raced another change in containerd and may simply be sent again."""
    return _RACED_REMOVAL in message


def raced_removal_wait(attempt: int) -> float:
    """Seconds to wait before sending a raced removal again after ``attempt`` attempts.

    Sent again at once, parallel removals of images sharing content raced each other again, three times in a row
    (CI, Docker 28.5): the transaction that changed the content had not ended. The random factor keeps removals
    that failed together from coming back together."""
    return RACED_REMOVAL_WAIT * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)


# Docker 20.10's classic image store when two removals each took the last name of one image away at once (two names
# of it removed in parallel): the later one untags its name, then finds the image already deleted by the other and
# answers 500 with this. Later engines answer 404 (the image store's error became a NotFound).
_DELETED_MEANWHILE_RE = re.compile(r"unrecognized image ID sha256:[0-9a-f]{64}")


def deleted_meanwhile(message: str) -> bool:
    """Whether a failed DELETE /images/{name} found its image deleted by a removal running at the same time: the
    name and the image are gone, as asked."""
    return bool(_DELETED_MEANWHILE_RE.search(message))


def reports_manifest_availability(api_version: str) -> bool:
    """Whether GET /images/{name}/json?manifests=1 lists an image's platform manifests with whether their content
    is present (``Available``): from API 1.48."""
    return _version(api_version) >= (1, 48)


def prune_filter_sets(filters: Mapping[str, list], containerd_store: bool) -> list:
    """The filters of the prunes that, one after the other, delete what one prune with ``filters`` deletes.

    An image is kept when it carries every label a ``label!`` filter names. The containerd image store of Docker
    28 and 29 (moby#52334, fixed in moby#52338) also keeps every image that lacks the label of a
    ``label!=key=value``, while ``label!=key`` works there. So each label! item gets prunes of its own: the item
    as given, and ``label!=key`` for the images without that label; together they delete the images for which
    some item fails, which is what a correct engine deletes.
    """
    negated = list(filters.get("label!") or [])
    if not containerd_store or all("=" not in item for item in negated):
        return [dict(filters)]
    conditions = _unique(condition for item in negated
                         for condition in ([item, item.partition("=")[0]] if "=" in item else [item]))
    return [dict(filters, **{"label!": [condition]}) for condition in conditions]


# The DriverStatus entry of an engine that keeps images in containerd (moby's LayerStoreStatus).
CONTAINERD_STORE_STATUS = ["driver-type", "io.containerd.snapshotter.v1"]


# The containerd image store came with Docker 23.0 (API 1.42), behind the containerd-snapshotter feature (moby#43735).
CONTAINERD_STORE_SINCE_API = (1, 42)


def may_use_containerd_store(engine_api_version: Optional[str]) -> bool:
    """Whether an engine of this (newest) API version can keep images in containerd; an older one (Docker 20.10,
    Podman) is known to keep them in its graph driver without asking GET /info, which costs a task 10 ms or
    more. An unknown version may."""
    return engine_api_version is None or _version(engine_api_version) >= CONTAINERD_STORE_SINCE_API


def uses_containerd_store(info: Any) -> bool:
    """Whether GET /info describes the containerd image store, where an image's id is the digest of its manifest
    (or index) instead of its config."""
    status = info.get("DriverStatus") if isinstance(info, dict) else None
    return any(isinstance(entry, (list, tuple)) and list(entry) == CONTAINERD_STORE_STATUS for entry in status or ())


def endpoint_missing(engine: EngineIdentity, status: int, message: str) -> bool:
    """Whether an error answer means the engine has no such endpoint at all.

    Podman's router answers a bare "Not Found" for the Docker endpoints it lacks (/distribution,
    /build/prune); a missing image or manifest always comes with a reason.
    """
    return engine.is_podman and status == 404 and message == "Not Found"


def refuse_unchecked_version(engine: EngineIdentity, wanted: str, offered: Optional[str], where: str) -> None:
    """Refuse an explicit api_version newer than the engine speaks, where the engine would not.

    dockerd refuses a newer version than it speaks ("client version ... is too new"); Podman serves
    any version number in the path, so the same request must be refused here.
    """
    if engine.is_podman and offered and re.match(r"^\d+\.\d+$", offered) and \
            _version(wanted) > _version(offered):
        raise UnsupportedApiVersion(
            "moby.engine refused API version {0}: the engine at {1} is {2}, which does not check the version "
            "it is asked for; use api_version auto or {3}".format(wanted, where, engine.describe(offered), offered))


# What each kind of engine lacks, by feature name; modules' requirement tables name these features.
MISSING_FEATURES = {
    PODMAN: {
        "buildkit": "BuildKit",
        "buildkit_exporters": "BuildKit's exporters",
        "build_cache": "the engine's build cache (POST /build/prune)",
        "pull_all_tags": "a pull of every tag (Podman's service pulls only :latest)",
        "prune_label_not": "a prune that honours 'label!' (Podman would delete the images it should keep)",
        "concurrent_name_changes": "changes to one image's names made at the same time (Podman loses some)",
    },
}
# Features of MISSING_FEATURES that a later version of the engine offers: the first version seen to offer it.
OFFERED_FROM = {
    PODMAN: {
        # Podman 4.3 deletes the images 'label!' names; 5.4 keeps them (make test-podman5 runs image_prune).
        "prune_label_not": (5, 4),
        # Podman 4.3 rewrites an image's whole list of names for each tag and untag, unguarded: of 4 or 8 tags (or
        # removals of names) of one image sent at once, 17 of 80 tags and 28 of 80 untags were lost while every
        # request answered success. Podman 5.4 lost none of 200 of each (Docker 20.10 none of 80).
        "concurrent_name_changes": (5, 4),
    },
}


def loses_concurrent_name_changes(engine: EngineIdentity) -> bool:
    """Whether a task must send its changes to one image's names (tags, removals of names) one at a time."""
    return lacking_feature(engine, "concurrent_name_changes") is not None


def lacking_feature(engine: EngineIdentity, feature: str) -> Optional[str]:
    """What ``engine`` lacks for ``feature`` (MISSING_FEATURES' words), or None when it offers it.

    An engine whose version cannot be read is taken to lack what its product lacked at first.
    """
    lacking = MISSING_FEATURES.get(engine.product, {}).get(feature)
    offered_from = OFFERED_FROM.get(engine.product, {}).get(feature)
    release = re.match(r"^(\d+)\.(\d+)", engine.version)
    if lacking and offered_from and release and (int(release.group(1)), int(release.group(2))) >= offered_from:
        return None
    return lacking


@dataclass(frozen=True)
class Requirement:
    """What an option needs from the engine: a minimum API version, or a feature some engines lack."""

    api: Optional[str] = None
    feature: Optional[str] = None


def unmet_requirement(engine: EngineIdentity, api_version: str, engine_api_version: Optional[str],
                      requirement: Requirement, option: str, where: str) -> Optional[Exception]:
    """The error to raise when ``option`` (set by the user) needs more than this engine offers, else None."""
    described = engine.describe(engine_api_version or api_version)
    if requirement.api and _version(api_version) < _version(requirement.api):
        return UnsupportedApiVersion(
            "{0} needs engine API {1} or newer; the engine at {2} is {3}. Leave {0} unset on this engine, "
            "or upgrade it".format(option, requirement.api, where, described))
    lacking = lacking_feature(engine, requirement.feature or "")
    if lacking:
        return UnsupportedByEngine(
            "{0} needs {1}, which the engine at {2}, {3}, does not offer. Leave {0} unset on {4}, or use "
            "Docker".format(option, lacking, where, described, engine.product))
    return None


def _version(text: str) -> tuple:
    return tuple(int(part) for part in text.split("."))


def _unique(names: Any) -> list:
    seen: list = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen
