# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One fake engine for every unit test: an HTTP session that answers like dockerd or Podman's service.

It keeps images, containers, a registry (``repo:tag`` -> manifest) and build cache records in memory and
answers the Engine API paths the collection uses from that state, in each engine's own spelling: Docker
names images familiarly (``app:1``), Podman fully qualified (``localhost/app:1``, ``docker.io/library/busybox:1``)
with bare ids in delete and history answers, no aux record after a push, and a bare "Not Found" for the
endpoints it lacks.  Error answers are ``{"message": ...}`` with the engines' own wording.  Every request is
recorded; ``on()`` scripts an answer (a fault, a canned body) for a path ahead of the state.

Tests install it with the ``fake_engine`` fixture (tests/unit/plugins/conftest.py), which replaces
``Transport._new_session``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import unquote

import requests
from requests.structures import CaseInsensitiveDict

TCP_HOST = "tcp://127.0.0.1:2375"
DOCKER_SERVER = "Docker/20.10.24+dfsg1 (linux)"
PODMAN_VERSION = "4.3.1"
CREATED = "2026-11-20T10:00:00.000000000Z"
CREATED_UNIX = 1795082400
# (flavour, Podman version, whether a task's changes to one image's names may go at once): Podman 4.3 lost some of
# the tags and untags of one image sent at once, though each answered success; 5.4 and Docker lost none.
NAME_CHANGE_ENGINES = [("docker", None, True), ("podman", "4.3.1", False), ("podman", "5.4.2", True)]
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway"}
_HEX_RE = re.compile(r"^[0-9a-f]{1,64}$")
_VERSION_PREFIX_RE = re.compile(r"^/v(\d+\.\d+)(/.*)$")


def sha(text: Any) -> str:
    """A digest (``sha256:<hex>``) of anything, for made-up ids and manifest digests."""
    return "sha256:" + hashlib.sha256(str(text).encode("utf-8")).hexdigest()


def short_id(image_id: str) -> str:
    return image_id.split(":")[-1][:12]


def auth_header(**auth: Any) -> str:
    """X-Registry-Auth as the client encodes it."""
    return base64.urlsafe_b64encode(json.dumps(auth).encode("utf-8")).decode("ascii")


class Reply:
    """Shaped like requests.Response as far as the client uses it."""

    def __init__(self, status: int = 200, body: Any = None, headers: Optional[dict] = None,
                 chunks: Optional[list] = None, reason: Optional[str] = None,
                 broken: Optional[BaseException] = None) -> None:
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers or {})
        if isinstance(body, (dict, list)):
            self.text = json.dumps(body)
            self.headers.setdefault("Content-Type", "application/json")
        else:
            self.text = body or ""
        self.reason = reason or _REASONS.get(status, "")
        self._chunks = chunks
        self._broken = broken
        self.closed = False
        self.chunk_sizes: list = []

    def json(self) -> Any:
        return json.loads(self.text)  # a ValueError on a body that is not JSON, as requests raises

    def iter_content(self, chunk_size: int = 1) -> Any:
        self.chunk_sizes.append(chunk_size)
        yield from self._chunks if self._chunks is not None else [self.text.encode("utf-8")]
        if self._broken is not None:
            raise self._broken

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "Reply":
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        self.close()
        return False


def error(status: int, message: str) -> Reply:
    return Reply(status, {"message": message})


def stream(*messages: dict) -> Reply:
    """A JSON progress stream, a message per line as dockerd writes them."""
    return Reply(200, headers={"Content-Type": "application/json"},
                 chunks=[(json.dumps(message) + "\r\n").encode("utf-8") for message in messages])


@dataclass
class Request:
    method: str
    path: str            # without the /vX.Y prefix
    version: Optional[str]
    query: dict
    headers: dict
    body: Any
    url: str             # the query as it goes on the wire
    timeout: Any = None
    stream: bool = False

    @property
    def auth(self) -> Optional[dict]:
        """The decoded X-Registry-Auth, if sent."""
        header = self.headers.get("X-Registry-Auth")
        return json.loads(base64.urlsafe_b64decode(header)) if header else None


@dataclass
class Manifest:
    """What a registry holds under a tag."""

    digest: str
    image_id: str
    size: int = 527
    labels: dict = field(default_factory=dict)


def _split_tag(name: str) -> tuple:
    slash, colon = name.rfind("/"), name.rfind(":")
    return (name[:colon], name[colon + 1:]) if colon > slash else (name, None)


def _has_domain(name: str) -> bool:
    first, sep, _rest = name.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def familiar(name: str) -> str:
    """A name in Docker's spelling: ``docker.io/library/busybox`` -> ``busybox``, ``localhost/app`` -> ``app``."""
    for prefix in ("index.docker.io/library/", "docker.io/library/", "index.docker.io/", "docker.io/", "localhost/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def familiar_tagged(name: str) -> str:
    name = familiar(name)
    if "@" in name:
        return name
    repository, tag = _split_tag(name)
    return "{0}:{1}".format(repository, tag or "latest")


def repository_of(name: str) -> str:
    return _split_tag(familiar(name).split("@", 1)[0])[0]


def path_match(pattern: str, name: str) -> bool:
    """Go's path.Match as dockerd's reference filter uses it (``*`` never crosses ``/``)."""
    regex = "".join("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, name) is not None


class FakeEngine:
    """The engine's state and its answers; ``request`` is the requests.Session method the transport calls."""

    def __init__(self, flavour: str = "docker", api_version: str = "1.41", max_api_version: Optional[str] = None,
                 base_url: str = "http://127.0.0.1:2375") -> None:
        assert flavour in ("docker", "podman")
        self.podman = flavour == "podman"
        self.api_version = api_version
        # dockerd refuses a newer version than it speaks; Podman serves any version in the path.
        self.max_api_version = max_api_version or api_version
        self.base_url = base_url
        self.images: dict = {}        # id -> inspect data, names in the engine's own spelling
        self.containers: dict = {}    # id -> inspect data
        self.registry: dict = {}      # familiar "repo:tag" -> Manifest
        self.registry_users: dict = {}  # registry host -> (username, password) it requires
        self.search_index: list = []  # Docker Hub's search results
        self.build_cache: list = []   # records as /system/df lists them
        self.requests: list = []
        self.closed = False
        self._scripted: list = []
        self._lock = threading.RLock()
        self._counter = 0

    # -- setting up state --------------------------------------------------

    def add_image(self, *names: str, image_id: Optional[str] = None, digests: tuple = (), labels: Optional[dict] = None,
                  size: int = 1000, created: str = CREATED, comment: str = "", config: Optional[dict] = None,
                  origin: str = "hub") -> str:
        """An image named ``names`` (familiar spelling; stored in the engine's); returns its id."""
        with self._lock:
            self._counter += 1
            image_id = image_id or sha("image {0} {1}".format(self._counter, names))
            image = self.images.get(image_id) or {
                "Id": image_id, "RepoTags": [], "RepoDigests": [], "Parent": "", "Comment": comment,
                "Created": created, "Container": "", "DockerVersion": "20.10.24",
                "Config": dict({"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                                "Cmd": ["sh"], "Labels": dict(labels) if labels else None}, **(config or {})),
                "Architecture": "amd64", "Os": "linux", "Size": size, "VirtualSize": size,
                "RootFS": {"Type": "layers", "Layers": [sha("layer " + image_id)]}, "Metadata": {"LastTagTime": ""}}
            self.images[image_id] = image
            for name in names:
                self._set_tag(image_id, name, origin)
            for digest in digests:
                self._add_digest(image_id, digest, origin)
            return image_id

    def add_container(self, name: str, image: str, running: bool = True, config: Optional[dict] = None) -> str:
        image_id = self.resolve(image)
        assert image_id, image
        container_id = sha("container " + name).split(":")[1]
        self.containers[container_id] = {
            "Id": container_id, "Name": "/" + name, "Image": image_id,
            "State": {"Status": "running" if running else "exited", "Running": running},
            "Config": dict({"Image": image, "Cmd": ["sleep", "300"], "Env": ["A=1"], "Labels": {}}, **(config or {}))}
        return container_id

    def publish(self, name: str, image_id: Optional[str] = None, labels: Optional[dict] = None,
                digest: Optional[str] = None) -> Manifest:
        """Put an image in the registry under ``name`` (``repo:tag``); it need not exist locally."""
        name = familiar_tagged(name)
        image_id = image_id or sha("remote image " + name)
        manifest = Manifest(digest or sha("manifest " + image_id), image_id,
                            labels=dict(labels or {}))
        self.registry[name] = manifest
        return manifest

    def on(self, method: str, path: str, reply: Any, times: Optional[int] = None) -> None:
        """Answer ``method path`` (regex on the unversioned path) with ``reply`` (a Reply, an exception to raise,
        or a callable taking the Request) ahead of the state, ``times`` times or always."""
        self._scripted.append([method, re.compile(path + "$"), reply, times])

    def count_overlaps(self, method: str, path: str, wait: float = 0.3) -> list:
        """Answer ``method path`` from the state, but outside the engine's lock, after waiting up to ``wait``
        seconds for another such request to arrive; the list returned gets, for each request as it arrives, how
        many are in flight (a value above 1 shows that requests overlapped)."""
        in_flight = threading.Condition()
        active = [0]
        arrivals: list = []

        def answer(record: Request) -> Reply:
            with in_flight:
                active[0] += 1
                arrivals.append(active[0])
                arrived = len(arrivals)
                in_flight.notify_all()
                in_flight.wait_for(lambda: len(arrivals) > arrived, timeout=wait)
                active[0] -= 1
            with self._lock:
                return self._answer(record)

        self.on(method, path, answer)
        return arrivals

    # -- reading state -----------------------------------------------------

    def image(self, name: str) -> Optional[dict]:
        image_id = self.resolve(name)
        return self.images.get(image_id) if image_id else None

    def tags(self) -> dict:
        """Every local name (familiar) -> image id."""
        return {familiar(tag): image_id for image_id, image in self.images.items() for tag in image["RepoTags"]}

    def snapshot(self) -> str:
        """The whole state, to compare before and after a check-mode run."""
        return json.dumps([self.images, self.containers, {k: vars(v) for k, v in self.registry.items()},
                           self.build_cache], sort_keys=True)

    def calls(self, method: Optional[str] = None) -> list:
        return [(r.method, r.path) for r in self.requests if method in (None, r.method)]

    def paths(self, method: Optional[str] = None) -> list:
        return [r.path for r in self.requests if method in (None, r.method)]

    def mutations(self) -> list:
        """Requests that change something (every request but GET and /_ping)."""
        return [(r.method, r.path) for r in self.requests if r.method not in ("GET", "HEAD")]

    def last(self, method: Optional[str] = None, path: Optional[str] = None) -> Request:
        return [r for r in self.requests if method in (None, r.method) and path in (None, r.path)][-1]

    # -- names as the engine resolves them ----------------------------------

    def spelt(self, name: str, origin: str = "hub") -> str:
        """``name`` (familiar) as this engine stores it: Podman qualifies a name without registry, with
        localhost/ when it made the image itself, docker.io/ otherwise."""
        if not self.podman or _has_domain(name):
            return name
        if origin == "local":
            return "localhost/" + name
        if origin == "hub" and "/" not in repository_of(name):
            return "docker.io/library/" + name
        return "docker.io/" + name

    def resolve(self, name: str) -> Optional[str]:
        """The id ``name`` names, as dockerd looks it up: full id, repo:tag (latest by default), repo@digest,
        then a prefix of an id."""
        bare = name[len("sha256:"):] if name.startswith("sha256:") else name
        if len(bare) == 64 and _HEX_RE.match(bare) and "sha256:" + bare in self.images:
            return "sha256:" + bare
        wanted = familiar_tagged(name)
        for image_id, image in self.images.items():
            if wanted in [familiar(ref) for ref in image["RepoTags"] + image["RepoDigests"]]:
                return image_id
        if _HEX_RE.match(bare):
            found = [image_id for image_id in self.images if image_id.split(":")[1].startswith(bare)]
            if len(found) == 1:
                return found[0]
        return None

    def _set_tag(self, image_id: str, name: str, origin: str) -> None:
        name = familiar_tagged(name)
        for other in self.images.values():
            other["RepoTags"] = [tag for tag in other["RepoTags"] if familiar(tag) != name]
        self.images[image_id]["RepoTags"].append(self.spelt(name, origin))

    def _add_digest(self, image_id: str, reference: str, origin: str = "hub") -> None:
        spelt = self.spelt(reference, origin)
        if spelt not in self.images[image_id]["RepoDigests"]:
            self.images[image_id]["RepoDigests"].append(spelt)

    def _not_found(self, name: str) -> Reply:
        if self.podman:
            return Reply(404, {"cause": "image not known",
                               "message": "failed to find image {0}: {0}: image not known".format(name),
                               "response": 404})
        return error(404, "No such image: " + name)

    # -- the session -------------------------------------------------------

    def request(self, method: str, url: str, params: Optional[dict] = None, headers: Optional[dict] = None,
                data: Any = None, json: Any = None, stream: bool = False, timeout: Any = None,
                allow_redirects: bool = True) -> Reply:  # pylint: disable=redefined-outer-name
        assert url.startswith(self.base_url), url
        assert allow_redirects is False, "the client must not follow redirects"
        path = unquote(url[len(self.base_url):])
        version = None
        match = _VERSION_PREFIX_RE.match(path)
        if match:
            version, path = match.groups()
        wire = requests.Request(method, "http://engine" + url[len(self.base_url):], params=params).prepare().url
        body = json if json is not None else _read_body(data)
        record = Request(method, path, version, dict(params or {}), dict(headers or {}), body, wire, timeout, stream)
        with self._lock:
            self.requests.append(record)
            answer = self._scripted_answer(record)
            if answer is None:
                answer = self._answer(record)
        if callable(answer) and not isinstance(answer, Reply):
            answer = answer(record)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def close(self) -> None:
        self.closed = True

    def _scripted_answer(self, record: Request) -> Any:
        for entry in self._scripted:
            method, pattern, reply, times = entry
            if method == record.method and pattern.match(record.path) and times != 0:
                if times is not None:
                    entry[3] -= 1
                return reply
        return None

    def _answer(self, record: Request) -> Reply:
        if record.path in ("/_ping", "/version"):
            return self._ping() if record.path == "/_ping" else self._version()
        if record.version is None:
            return error(404, "page not found")
        if not self.podman and _newer(record.version, self.max_api_version):
            return error(400, "client version {0} is too new. Maximum supported API version is {1}".format(
                record.version, self.max_api_version))
        for method, pattern, handler in ROUTES:
            match = pattern.match(record.path)
            if method == record.method and match:
                return handler(self, record, *match.groups())
        if self.podman:
            return Reply(404, "Not Found", {"Content-Type": "text/plain"})
        return error(404, "page not found")

    # -- system ------------------------------------------------------------

    def _ping(self) -> Reply:
        headers = {"Api-Version": self.api_version, "Cache-Control": "no-cache, no-store, must-revalidate",
                   "Content-Type": "text/plain; charset=utf-8", "Docker-Experimental": "false", "Ostype": "linux",
                   "Server": DOCKER_SERVER}
        if self.podman:
            headers.update({"Libpod-Api-Version": PODMAN_VERSION, "Libpod-Buildah-Version": "1.28.2",
                            "Server": "Libpod/{0} (linux)".format(PODMAN_VERSION), "Docker-Experimental": "true"})
        return Reply(200, "OK", headers)

    def _version(self) -> Reply:
        return Reply(200, {"ApiVersion": self.api_version, "MinAPIVersion": "1.24" if self.podman else "1.12",
                           "Version": PODMAN_VERSION if self.podman else "20.10.24+dfsg1", "Os": "linux",
                           "Arch": "amd64"})

    def info(self, record: Request) -> Reply:
        if self.podman:
            return Reply(200, {"Driver": "overlay", "DriverStatus": [["Backing Filesystem", "extfs"]],
                               "ServerVersion": PODMAN_VERSION, "OperatingSystem": "debian"})
        # The classic image store: an image's id is its config digest.
        return Reply(200, {"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"],
                                                                  ["Supports d_type", "true"]],
                           "ServerVersion": "20.10.24+dfsg1", "OperatingSystem": "Debian GNU/Linux 12 (bookworm)"})

    def system_df(self, record: Request) -> Reply:
        return Reply(200, {"LayersSize": sum(image["Size"] for image in self.images.values()),
                           "Images": [self._summary(image) for image in self.images.values()],
                           "Containers": [], "Volumes": [], "BuildCache": [] if self.podman else self.build_cache})

    # -- images ------------------------------------------------------------

    def inspect_image(self, record: Request, name: str) -> Reply:
        image_id = self.resolve(name)
        return Reply(200, self.images[image_id]) if image_id else self._not_found(name)

    def image_history(self, record: Request, name: str) -> Reply:
        image_id = self.resolve(name)
        if not image_id:
            return self._not_found(name)
        image = self.images[image_id]
        entries = [{"Id": image_id, "Created": CREATED_UNIX, "CreatedBy": '/bin/sh -c #(nop)  CMD ["sh"]',
                    "Tags": image["RepoTags"] or None, "Size": 0, "Comment": image["Comment"]},
                   {"Id": "<missing>", "Created": CREATED_UNIX, "CreatedBy": "/bin/sh -c #(nop) ADD file:1 in / ",
                    "Tags": None, "Size": image["Size"], "Comment": ""}]
        if self.podman:
            entries[0]["Id"] = image_id.split(":")[1]
        return Reply(200, entries)

    def _summary(self, image: dict) -> dict:
        summary = {"Id": image["Id"], "ParentId": image["Parent"], "RepoTags": list(image["RepoTags"]),
                   "RepoDigests": list(image["RepoDigests"]), "Created": _unix(image["Created"]),
                   "Size": image["Size"], "SharedSize": -1, "VirtualSize": image["Size"],
                   "Labels": image["Config"].get("Labels"), "Containers": -1}
        if self.podman:
            summary.update(Names=list(image["RepoTags"]), Digest=sha(image["Id"]), History=list(image["RepoTags"]))
        return summary

    def list_images(self, record: Request) -> Reply:
        if self.podman and record.query.get("digests") == "1":
            return Reply(200, "")  # Podman 4.3 answers digests=1 with an empty body
        filters, refused = _filters(record.query.get("filters"), ("reference", "dangling", "label", "before", "since"))
        if refused:
            return refused
        listed = []
        for image in self.images.values():
            if not self._selected(image, filters):
                continue
            summary = self._summary(image)
            patterns = filters.get("reference")
            if patterns and not self.podman:
                # dockerd lists only the names that match, and drops images none of whose names do.
                summary["RepoTags"] = [tag for tag in summary["RepoTags"] if _reference_match(tag, patterns)]
                summary["RepoDigests"] = [ref for ref in summary["RepoDigests"] if _reference_match(ref, patterns)]
                if not summary["RepoTags"] and not summary["RepoDigests"]:
                    continue
            elif patterns and not any(_podman_reference_match(tag, patterns) for tag in image["RepoTags"]):
                continue
            listed.append(summary)
        return Reply(200, listed)

    def _selected(self, image: dict, filters: dict, prune: bool = False) -> bool:
        if "dangling" in filters and (filters["dangling"][0] in ("true", "1")) != (not image["RepoTags"]):
            return False
        labels = image["Config"].get("Labels") or {}
        if "label" in filters and not all(_label_match(wanted, labels) for wanted in filters["label"]):
            return False
        # Podman's prune ignores 'label!' (and so deletes what it should keep).
        if "label!" in filters and not (prune and self.podman) and any(
                _label_match(wanted, labels) for wanted in filters["label!"]):
            return False
        if "until" in filters and _unix(image["Created"]) > float(filters["until"][0]):
            return False
        return True

    def tag_image(self, record: Request, name: str) -> Reply:
        image_id = self.resolve(name)
        if not image_id:
            return self._not_found(name)
        repository = record.query.get("repo")
        if not repository or repository != repository.lower():
            return error(400, "invalid reference format: repository name must be lowercase")
        self._set_tag(image_id, "{0}:{1}".format(repository, record.query.get("tag") or "latest"), "tag")
        return Reply(201, "")

    def remove_image(self, record: Request, name: str) -> Reply:
        image_id = self.resolve(name)
        if not image_id:
            return self._not_found(name)
        image, force = self.images[image_id], record.query.get("force") == "1"
        users = [c for c in self.containers.values() if c["Image"] == image_id]
        named = familiar_tagged(name)
        by_name = [ref for ref in image["RepoTags"] + image["RepoDigests"] if familiar(ref) == named]
        if by_name and (len(image["RepoTags"]) > 1 or (force and users)):
            image["RepoTags"] = [tag for tag in image["RepoTags"] if tag not in by_name]
            image["RepoDigests"] = [ref for ref in image["RepoDigests"] if ref not in by_name]
            return Reply(200, [{"Untagged": ref} for ref in by_name])
        if users and not force:
            running = [c for c in users if c["State"]["Running"]]
            if by_name:
                return error(409, 'conflict: unable to remove repository reference "{0}" (must force) - container {1} '
                                  "is using its referenced image {2}".format(name, users[0]["Id"][:12],
                                                                             short_id(image_id)))
            return error(409, "conflict: unable to delete {0} ({1}) - image is being used by {2} container {3}".format(
                short_id(image_id), "cannot be forced" if running else "must be forced",
                "running" if running else "stopped", users[0]["Id"][:12]))
        if not by_name and not force and not _single_reference(image):
            if self.podman:
                return Reply(409, {"cause": "image is in use", "response": 409, "message":
                                   'unable to delete image "{0}" by ID with more than one tag ([{1}]): please force '
                                   "removal".format(image_id.split(":")[1], " ".join(image["RepoTags"]))})
            return error(409, "conflict: unable to delete {0} (must be forced) - image is referenced in multiple "
                              "repositories".format(short_id(image_id)))
        del self.images[image_id]
        deleted = image_id.split(":")[1] if self.podman else image_id
        return Reply(200, [{"Untagged": ref} for ref in image["RepoTags"] + image["RepoDigests"]]
                     + [{"Deleted": deleted}])

    def prune_images(self, record: Request) -> Reply:
        filters, refused = _filters(record.query.get("filters"), ("dangling", "label", "label!", "until"))
        if refused:
            return refused
        filters.setdefault("dangling", ["true"])
        in_use = {container["Image"] for container in self.containers.values()}
        deleted, space = [], 0
        for image_id, image in list(self.images.items()):
            if image_id in in_use or not self._selected(image, filters, prune=True):
                continue
            del self.images[image_id]
            deleted += [{"Untagged": ref} for ref in image["RepoTags"] + image["RepoDigests"]]
            deleted.append({"Deleted": image_id.split(":")[1] if self.podman else image_id})
            space += image["Size"]
        return Reply(200, {"ImagesDeleted": deleted or None, "SpaceReclaimed": space})

    def search_images(self, record: Request) -> Reply:
        term = record.query.get("term", "")
        if _has_domain(term) and not term.startswith(("docker.io/", "index.docker.io/")):
            return error(500, "Unexpected status code 404")
        filters, refused = _filters(record.query.get("filters"), ("is-official", "is-automated", "stars"))
        if refused:
            return refused
        limit = int(record.query.get("limit") or 25)
        if not 1 <= limit <= 100:
            return error(400, "Limit {0} is outside the range of [1, 100]".format(limit))
        found = [item for item in self.search_index if familiar(term) in item["name"]
                 and item["star_count"] >= int((filters.get("stars") or ["0"])[0])
                 and ("is-official" not in filters or str(item["is_official"]).lower() == filters["is-official"][0])]
        return Reply(200, found[:limit])

    # -- registries ----------------------------------------------------------

    def _refused(self, name: str, record: Request) -> Optional[str]:
        """Why the registry of ``name`` refuses the request's credentials, or None."""
        host = name.split("/", 1)[0] if _has_domain(name) else "docker.io"
        wanted = self.registry_users.get(host)
        auth = record.auth or {}
        if wanted and (auth.get("username"), auth.get("password")) != wanted:
            return "unauthorized: authentication required"
        return None

    def distribution(self, record: Request, name: str) -> Reply:
        if self.podman:
            return Reply(404, "Not Found", {"Content-Type": "text/plain"})
        refused = self._refused(name, record)
        if refused:
            return error(401, refused)
        manifest = self.registry.get(familiar_tagged(name))
        if manifest is None:
            return error(404, "manifest unknown: manifest unknown")
        return Reply(200, {"Descriptor": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                          "digest": manifest.digest, "size": manifest.size},
                           "Platforms": [{"architecture": "amd64", "os": "linux"}]})

    def create_image(self, record: Request) -> Reply:
        if "fromSrc" in record.query:
            return self._import(record)
        repository, tag = record.query.get("fromImage", ""), record.query.get("tag")
        name = "{0}@{1}".format(repository, tag) if tag and ":" in tag else "{0}:{1}".format(repository, tag or "latest")
        refused = self._refused(name, record)
        if refused:
            return error(500, "Head \"https://{0}/v2/{1}/manifests/{2}\": {3}".format(
                name.split("/", 1)[0], repository, tag, refused))
        wanted = familiar(name)
        found = [(key, m) for key, m in self.registry.items()
                 if key == wanted or "{0}@{1}".format(repository_of(key), m.digest) == wanted]
        if not tag and not self.podman:
            # dockerd pulls every tag of a repository named without one; Podman's service only :latest.
            found = [(key, m) for key, m in self.registry.items() if repository_of(key) == familiar(repository)]
            for key, manifest in found[1:]:
                self._pulled(key, manifest, record.query.get("platform"))
        if not found:
            if self.podman:
                return stream({"status": "Trying to pull {0}...".format(self.spelt(wanted))},
                              {"error": "initializing source docker://{0}: reading manifest {1} in {2}: manifest "
                                        "unknown".format(self.spelt(wanted), tag, repository),
                               "errorDetail": {"message": "manifest unknown"}})
            return error(404, "manifest for {0} not found: manifest unknown: manifest unknown".format(wanted))
        key, manifest = found[0]
        present = self._pulled(key, manifest, record.query.get("platform"))
        layer = manifest.image_id.split(":")[1][:12]
        if self.podman:
            return stream({"status": "Trying to pull {0}...".format(self.spelt(key))},
                          {"status": "Download complete", "progressDetail": {}, "id": layer},
                          {"id": manifest.image_id.split(":")[1]})
        messages = [{"status": "Pulling from {0}".format(repository_of(key)), "id": key.rpartition(":")[2]}]
        if not present:
            messages += [{"status": "Pulling fs layer", "progressDetail": {}, "id": layer},
                         {"status": "Pull complete", "progressDetail": {}, "id": layer}]
        messages += [{"status": "Digest: " + manifest.digest},
                     {"status": "Status: {0} for {1}".format(
                         "Image is up to date" if present else "Downloaded newer image", key)}]
        return stream(*messages)

    def _pulled(self, key: str, manifest: Manifest, platform: Optional[str]) -> bool:
        """Add the registry's image under ``key``; whether it was there already. A platform other than
        linux/amd64 gets an image of its own."""
        image_id = manifest.image_id if platform in (None, "linux/amd64") else sha(manifest.image_id + platform)
        present = image_id in self.images
        self.add_image(key, image_id=image_id, labels=manifest.labels,
                       digests=("{0}@{1}".format(repository_of(key), manifest.digest),))
        if platform:
            self.images[image_id]["Os"], _sep, self.images[image_id]["Architecture"] = platform.partition("/")
        return present

    def push_image(self, record: Request, repository: str) -> Reply:
        tag = record.query.get("tag") or "latest"
        name = "{0}:{1}".format(familiar(repository), tag)
        image_id = self.resolve(name)
        start = {"status": "The push refers to repository [{0}]".format(
            self.spelt(familiar(repository)) if self.podman else familiar(repository))}
        if not image_id:
            return stream(start, {"error": "An image does not exist locally with the tag: " + familiar(repository),
                                  "errorDetail": {"message": "An image does not exist locally with the tag: "
                                                             + familiar(repository)}})
        refused = self._refused(name, record)
        if refused:
            return stream(start, {"status": "Preparing", "progressDetail": {}, "id": short_id(image_id)},
                          {"error": refused, "errorDetail": {"message": refused}})
        held = self.registry.get(name)
        manifest = self.publish(name, image_id, labels=(self.images[image_id]["Config"].get("Labels") or {}))
        self._add_digest(image_id, "{0}@{1}".format(familiar(repository), manifest.digest))
        layer = short_id(image_id)
        status = "Layer already exists" if held and held.image_id == image_id else "Pushed"
        messages = [start, {"status": "Preparing", "progressDetail": {}, "id": layer},
                    {"status": status, "progressDetail": {}, "id": layer},
                    {"status": "{0}: digest: {1} size: {2}".format(tag, manifest.digest, manifest.size)}]
        if not self.podman:
            messages.append({"progressDetail": {}, "aux": {"Tag": tag, "Digest": manifest.digest,
                                                           "Size": manifest.size}})
        return stream(*messages)

    # -- archives ------------------------------------------------------------

    def export(self, record: Request, name: Optional[str] = None) -> Reply:
        names = [name] if name else record.query.get("names") or []
        if isinstance(names, str):
            names = [names]
        entries: dict = {}
        for wanted in names:
            image_id = self.resolve(wanted)
            if not image_id:
                return self._not_found(wanted)
            tags = entries.setdefault(image_id, [])
            if familiar_tagged(wanted) in [familiar(tag) for tag in self.images[image_id]["RepoTags"]]:
                tags.append(familiar_tagged(wanted))
        return Reply(200, headers={"Content-Type": "application/x-tar"},
                     chunks=[image_tar({image_id: (self.images[image_id], tags) for image_id, tags in entries.items()})])

    def load(self, record: Request) -> Reply:
        try:
            archive = tarfile.open(fileobj=io.BytesIO(record.body or b""))
            manifest = json.loads(archive.extractfile("manifest.json").read())
            configs = {entry["Config"]: json.loads(archive.extractfile(entry["Config"]).read()) for entry in manifest}
        except (tarfile.TarError, KeyError, ValueError) as exc:
            return error(500, "unexpected EOF" if isinstance(exc, tarfile.TarError) else "invalid archive: {0}".format(exc))
        lines = []
        for entry in manifest:
            image_id = "sha256:" + entry["Config"].split("/")[-1].replace(".json", "")
            config = configs[entry["Config"]]
            self.add_image(image_id=image_id, labels=(config.get("config") or {}).get("Labels"),
                           created=config.get("created") or CREATED)
            for tag in entry.get("RepoTags") or []:
                self._set_tag(image_id, tag, "hub")
            lines += [self.spelt(familiar_tagged(tag)) for tag in entry.get("RepoTags") or []] or [None]
            if not entry.get("RepoTags"):
                lines[-1] = "ID: " + image_id
        if self.podman:
            return stream({"stream": "Loaded image: {0}\n".format(",".join(line for line in lines if line))})
        return stream(*[{"stream": "Loaded image{0}{1}\n".format(" " if line.startswith("ID:") else ": ", line)}
                        for line in lines])

    def _import(self, record: Request) -> Reply:
        query = record.query
        source = query["fromSrc"]
        if source == "-" and not record.body:
            return error(500, "unexpected EOF")
        repository = query.get("repo")
        tag = None if self.podman else query.get("tag")  # Podman's service ignores tag here
        name = repository if not repository or _split_tag(repository)[1] or not tag else repository + ":" + tag
        changes = query.get("changes") or []
        image_id = self.add_image(*([name] if name else []), comment=query.get("message") or "",
                                  config=_apply_changes({"Cmd": None}, [changes] if isinstance(changes, str) else changes),
                                  origin="local", image_id=sha("import {0} {1} {2}".format(
                                      source if source != "-" else hashlib.sha256(record.body).hexdigest(),
                                      changes, query.get("message"))))
        return stream({"status": image_id})

    # -- builds and containers ------------------------------------------------

    def build(self, record: Request) -> Reply:
        query = record.query
        try:
            files = _tar_files(record.body) if record.body else {}
        except tarfile.TarError:
            return error(400, "unexpected EOF")
        dockerfile = files.get(query.get("dockerfile") or "Dockerfile")
        if dockerfile is None and not query.get("remote"):
            return error(500, "Cannot locate specified Dockerfile: {0}".format(query.get("dockerfile") or "Dockerfile"))
        lines = (dockerfile or b"FROM busybox\n").decode("utf-8").splitlines()
        steps = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
        log, step_word = [], "STEP" if self.podman else "Step"
        for number, step in enumerate(steps, 1):
            log.append({"stream": "{0} {1}/{2} : {3}\n".format(step_word, number, len(steps), step)})
            instruction, _sep, argument = step.partition(" ")
            if instruction.upper() == "FROM":
                base = argument.split()[0]
                if base != "scratch" and not self.resolve(base):
                    manifest = self.registry.get(familiar_tagged(base))
                    if manifest is None:
                        message = "pull access denied for {0}, repository does not exist or may require " \
                                  "'docker login': denied: requested access to the resource is denied".format(
                                      repository_of(base))
                        return stream(*log, {"error": message, "errorDetail": {"message": message}})
                    self.add_image(familiar_tagged(base), image_id=manifest.image_id,
                                   digests=("{0}@{1}".format(repository_of(base), manifest.digest),))
            failing = re.match(r"^RUN exit (\d+)$", step)
            if failing:
                message = ('building at STEP "{0}": while running runtime: exit status {1}' if self.podman else
                           "The command '/bin/sh -c exit {1}' returned a non-zero code: {1}").format(
                               step, failing.group(1))
                return stream(*log, {"error": message, "errorDetail": {"message": message}})
        labels = json.loads(query.get("labels") or "{}")
        context = hashlib.sha256(record.body or query.get("remote", "").encode()).hexdigest()
        image_id = sha("build {0} {1} {2} {3}".format(context, query.get("buildargs"), labels, query.get("target")))
        names = query.get("t") or []
        self.add_image(*([names] if isinstance(names, str) else names), image_id=image_id, labels=labels or None,
                       origin="local")
        log.append({"aux": {"ID": image_id}})
        log.append({"stream": "Successfully built {0}\n".format(short_id(image_id))})
        log += [{"stream": "Successfully tagged {0}\n".format(name)} for name in
                ([names] if isinstance(names, str) else names)]
        return stream(*log)

    def prune_build_cache(self, record: Request) -> Reply:
        if self.podman:
            return Reply(404, "Not Found", {"Content-Type": "text/plain"})
        filters, refused = _filters(record.query.get("filters"),
                                    ("until", "id", "parent", "type", "description", "inuse", "shared", "private"))
        if refused:
            return refused
        prune_all = record.query.get("all") == "1"
        keep = record.query.get("reserved-space", record.query.get("keep-storage"))
        removed = []
        for cache in sorted(self.build_cache, key=lambda cache: cache["LastUsedAt"]):
            if cache["InUse"] or (not prune_all and (cache["Shared"] or cache["Type"] in ("internal", "frontend"))):
                continue
            if "id" in filters and not re.search(filters["id"][0], cache["ID"]):
                continue
            if "type" in filters and cache["Type"] != filters["type"][0]:
                continue
            if "shared" in filters and not cache["Shared"] or "private" in filters and cache["Shared"]:
                continue
            removed.append(cache)
        if keep is not None:
            total, selected = sum(cache["Size"] for cache in self.build_cache), []
            for cache in removed:
                if total <= int(keep):
                    break
                selected.append(cache)
                total -= cache["Size"]
            removed = selected
        self.build_cache = [cache for cache in self.build_cache if cache not in removed]
        return Reply(200, {"CachesDeleted": [cache["ID"] for cache in removed] or None,
                           "SpaceReclaimed": sum(cache["Size"] for cache in removed)})

    def add_build_cache(self, cache_id: str, size: int = 1000, in_use: bool = False, shared: bool = False,
                        cache_type: str = "regular", last_used: str = "2026-11-20T10:00:00.123456789Z") -> None:
        self.build_cache.append({"ID": cache_id, "Parent": "", "Parents": None, "Type": cache_type,
                                 "Description": "mount / from exec /bin/sh -c true", "InUse": in_use,
                                 "Shared": shared, "Size": size, "CreatedAt": last_used, "LastUsedAt": last_used,
                                 "UsageCount": 1})

    def inspect_container(self, record: Request, name: str) -> Reply:
        for container in self.containers.values():
            if name in (container["Id"], container["Name"][1:]) or (len(name) >= 3 and container["Id"].startswith(name)):
                return Reply(200, container)
        return error(404, "No such container: " + name)

    def list_containers(self, record: Request) -> Reply:
        every = record.query.get("all") == "1"
        return Reply(200, [{"Id": c["Id"], "Names": [c["Name"]], "Image": c["Config"]["Image"], "ImageID": c["Image"],
                            "State": c["State"]["Status"]}
                           for c in self.containers.values() if every or c["State"]["Running"]])

    def commit(self, record: Request) -> Reply:
        query = record.query
        answer = self.inspect_container(record, query.get("container", ""))
        if answer.status_code != 200:
            return answer
        container = answer.json()
        config = dict(container["Config"])
        if not self.podman:
            config.update({key: value for key, value in (record.body or {}).items() if value not in (None, "", [], {})})
        changes = query.get("changes") or []
        config = _apply_changes(config, [changes] if isinstance(changes, str) else changes)
        repository = query.get("repo")
        names = ["{0}:{1}".format(repository, query.get("tag") or "latest")] if repository else []
        image_id = self.add_image(*names, comment=query.get("comment") or "", config=config, origin="local",
                                  labels=config.get("Labels"))
        return Reply(201, {"Id": image_id})


def _newer(version: str, than: str) -> bool:
    return tuple(int(part) for part in version.split(".")) > tuple(int(part) for part in than.split("."))


def _unix(created: str) -> int:
    return int(datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp())


def _read_body(data: Any) -> Any:
    if data is None or isinstance(data, (bytes, str)):
        return data
    if hasattr(data, "read"):
        return data.read()
    # As http.client's send does, an item that is not bytes (a FileSpan) is iterated for its bytes.
    return b"".join(item if isinstance(item, bytes) else b"".join(item) for item in data)


def _filters(text: Optional[str], known: tuple) -> tuple:
    """({key: [values]}, None) from the filters parameter, or (None, the engine's refusal)."""
    if not text:
        return {}, None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None, error(400, "invalid character in filters")
    filters = {}
    for key, value in parsed.items():
        if key not in known:
            return None, error(400, "invalid filter '{0}'".format(key))
        filters[key] = [item for item, wanted in value.items() if wanted] if isinstance(value, dict) else list(value)
    return filters, None


def _label_match(wanted: str, labels: dict) -> bool:
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _reference_match(name: str, patterns: list) -> bool:
    name = familiar(name)
    without_digest = name.split("@", 1)[0]
    return any(path_match(pattern, candidate) for pattern in patterns
               for candidate in (name, without_digest, _split_tag(without_digest)[0]))


def _podman_reference_match(name: str, patterns: list) -> bool:
    # Podman matches loosely: busybox finds localhost/team/busybox too.
    repository = _split_tag(name)[0]
    return any(_reference_match(name, [pattern]) or repository.endswith("/" + _split_tag(pattern)[0])
               for pattern in patterns)


def _single_reference(image: dict) -> bool:
    """dockerd's isSingleReference: every name in one repository, and at most one tag."""
    return len(image["RepoTags"]) <= 1 and len({repository_of(ref) for ref in image["RepoTags"]
                                                + image["RepoDigests"]}) <= 1


def _apply_changes(config: dict, changes: list) -> dict:
    config = dict(config)
    for change in changes:
        instruction, _sep, argument = change.partition(" ")
        instruction = instruction.upper()
        if instruction == "LABEL":
            key, _sep, value = argument.partition("=")
            config["Labels"] = dict(config.get("Labels") or {}, **{key.strip('"'): value.strip('"')})
        elif instruction == "ENV":
            config["Env"] = list(config.get("Env") or []) + [argument.replace('"', "")]
        elif instruction in ("CMD", "ENTRYPOINT"):
            config[instruction.capitalize() if instruction == "CMD" else "Entrypoint"] = (
                json.loads(argument) if argument.startswith("[") else ["/bin/sh", "-c", argument])
        elif instruction in ("USER", "WORKDIR"):
            config["User" if instruction == "USER" else "WorkingDir"] = argument
    return config


def _tar_files(data: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {member.name.lstrip("./") if member.name.startswith("./") else member.name:
                archive.extractfile(member).read() for member in archive if member.isfile()}


def image_tar(images: dict) -> bytes:
    """A ``docker save`` archive of ``{id: (inspect data, [tags])}``: manifest.json, configs and a layer each."""
    buffer = io.BytesIO()
    manifest = []
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for image_id, (image, tags) in images.items():
            hex_id = image_id.split(":")[1]
            config = json.dumps({"architecture": "amd64", "os": "linux", "created": image["Created"],
                                 "config": image["Config"]}).encode()
            layer = hashlib.sha256(hex_id.encode()).hexdigest() + "/layer.tar"
            for name, data in ((hex_id + ".json", config), (layer, b"\0" * 512)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            manifest.append({"Config": hex_id + ".json", "RepoTags": tags or None, "Layers": [layer]})
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


_NAME = r"(.+?)"
ROUTES = [(method, re.compile("^" + pattern + "$"), handler) for method, pattern, handler in (
    ("GET", "/images/json", FakeEngine.list_images),
    ("GET", "/images/search", FakeEngine.search_images),
    ("GET", "/images/get", FakeEngine.export),
    ("POST", "/images/create", FakeEngine.create_image),
    ("POST", "/images/load", FakeEngine.load),
    ("POST", "/images/prune", FakeEngine.prune_images),
    ("GET", "/images/" + _NAME + "/json", FakeEngine.inspect_image),
    ("GET", "/images/" + _NAME + "/history", FakeEngine.image_history),
    ("GET", "/images/" + _NAME + "/get", FakeEngine.export),
    ("POST", "/images/" + _NAME + "/tag", FakeEngine.tag_image),
    ("POST", "/images/" + _NAME + "/push", FakeEngine.push_image),
    ("DELETE", "/images/" + _NAME, FakeEngine.remove_image),
    ("GET", "/distribution/" + _NAME + "/json", FakeEngine.distribution),
    ("POST", "/build", FakeEngine.build),
    ("POST", "/build/prune", FakeEngine.prune_build_cache),
    ("POST", "/commit", FakeEngine.commit),
    ("GET", "/containers/json", FakeEngine.list_containers),
    ("GET", "/containers/" + _NAME + "/json", FakeEngine.inspect_container),
    ("GET", "/system/df", FakeEngine.system_df),
    ("GET", "/info", FakeEngine.info),
)]


# -- driving modules -------------------------------------------------------------


def module_params(options: dict, registry: bool = False, **overrides: Any) -> dict:
    """A module's params as AnsibleModule validates them: every option of its argument spec, defaults applied."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.moby.engine.plugins.module_utils._common import argument_spec

    spec = argument_spec(options, registry=registry)
    given = dict({"docker_host": TCP_HOST}, **overrides)
    result = ArgumentSpecValidator(spec).validate(given)
    assert result.error_messages == [], result.error_messages
    return result.validated_parameters
