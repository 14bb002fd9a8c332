# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Image references, parsed and normalised the way the engine does.

The grammar follows the distribution project's reference grammar: an optional
registry domain (recognised by a dot, a colon or being ``localhost``), path
components, an optional tag and an optional digest.  A port is part of the
domain, never a tag.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
MAX_NAME_LENGTH = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = r"(?:{c}(?:\.{c})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?".format(c=_DOMAIN_COMPONENT)
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[-_+.][a-z0-9]+)*:[0-9a-f]{32,}"

_PATH_RE = re.compile(r"^{c}(?:/{c})*$".format(c=_COMPONENT))
_DOMAIN_RE = re.compile(r"^{d}$".format(d=_DOMAIN))
_TAG_RE = re.compile(r"^{t}$".format(t=_TAG), re.ASCII)  # \w as in Go: ASCII letters, digits, _
_DIGEST_RE = re.compile(r"^{d}$".format(d=_DIGEST))
_IMAGE_ID_RE = re.compile(r"^(?:sha256:)?[a-f0-9]{12,64}$")
_PLATFORM_RE = re.compile(r"^[a-z0-9_.-]+(?:/[a-z0-9_.-]+){0,2}$", re.IGNORECASE)
TAG_RULE = "a tag is 1 to 128 characters of letters, digits, '_', '.' and '-', and does not start with '.' or '-'"


@dataclass(frozen=True)
class ImageReference:
    """A parsed ``[domain/]path[:tag][@digest]`` reference."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """Fully qualified repository, e.g. ``docker.io/library/busybox``."""
        return "{0}/{1}".format(self.domain, self.path)

    @property
    def familiar_repository(self) -> str:
        """Repository as the engine shows it in RepoTags (``busybox``, ``127.0.0.1:5000/app``)."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in self.path[len(OFFICIAL_REPO_PREFIX):]:
                return self.path[len(OFFICIAL_REPO_PREFIX):]
            return self.path
        return self.repository

    @property
    def registry(self) -> str:
        """The registry host[:port] credentials are looked up for."""
        return self.domain

    def with_tag(self, tag: str | None) -> "ImageReference":
        # A tag option given apart from the name reaches the engine only through here.
        if tag is not None and not _TAG_RE.match(str(tag)):
            raise InvalidInput("tag {0!r} for {1} is invalid: {2}".format(tag, self.familiar_repository, TAG_RULE))
        return ImageReference(self.domain, self.path, tag, self.digest)

    def tag_or_default(self) -> str:
        return self.tag or DEFAULT_TAG

    def familiar(self) -> str:
        """The reference as the engine prints it: familiar repository, then tag and digest when set."""
        text = self.familiar_repository
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text

    def familiar_tagged(self) -> str:
        """``familiar_repository:tag``, the spelling of one RepoTags entry (``latest`` when untagged)."""
        return "{0}:{1}".format(self.familiar_repository, self.tag_or_default())

    def __str__(self) -> str:
        return self.familiar()


def parse_reference(text: str, default_tag: str | None = None) -> ImageReference:
    """Parse an image reference; raise InvalidInput saying what is wrong with it."""
    if not isinstance(text, str) or not text:
        raise InvalidInput("an image reference must be a non-empty string, got {0!r}".format(text))
    if len(text) > MAX_NAME_LENGTH + 200:
        raise InvalidInput("image reference {0!r} is too long".format(text[:60] + "..."))
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidInput("image reference {0!r} contains white space".format(text))
    remainder, digest = _split_digest(text)
    remainder, tag = _split_tag(text, remainder)
    domain, path = _split_repository(text, remainder)
    if tag is None and digest is None:
        tag = default_tag
    return ImageReference(domain, path, tag, digest)


def _split_digest(text: str) -> tuple:
    if "@" not in text:
        return text, None
    remainder, digest = text.split("@", 1)
    if not _DIGEST_RE.match(digest):
        raise InvalidInput(
            "image reference {0!r} has an invalid digest {1!r}: expected algorithm:hex, "
            "for example sha256: followed by 64 lower-case hexadecimal digits".format(text, digest))
    algorithm, hexpart = digest.split(":", 1)
    if algorithm == "sha256" and len(hexpart) != 64:
        raise InvalidInput(
            "image reference {0!r} has an invalid sha256 digest: expected 64 lower-case hexadecimal digits, "
            "got {1}".format(text, len(hexpart)))
    return remainder, digest


def _split_tag(text: str, remainder: str) -> tuple:
    last_slash, last_colon = remainder.rfind("/"), remainder.rfind(":")
    if last_colon <= last_slash:
        return remainder, None
    tag = remainder[last_colon + 1:]
    if not _TAG_RE.match(tag):
        raise InvalidInput("image reference {0!r} has an invalid tag {1!r}: {2}".format(text, tag, TAG_RULE))
    return remainder[:last_colon], tag


def _split_repository(text: str, remainder: str) -> tuple:
    domain, path = split_domain(remainder)
    if domain.lower() != domain and "." not in domain and ":" not in domain:
        # The engine would take an upper-case first component for a registry; users mean a repository.
        domain, path = DEFAULT_DOMAIN, remainder
    if not _PATH_RE.match(path):
        problem = "must be lower case" if path.lower() != path else "is not a valid repository name"
        raise InvalidInput(
            "image reference {0!r}: repository {1!r} {2} (components of a-z, 0-9 and separators "
            "'.', '_', '__', '-', joined by '/')".format(text, path, problem))
    if domain != DEFAULT_DOMAIN and not _DOMAIN_RE.match(domain):
        raise InvalidInput("image reference {0!r} has an invalid registry {1!r}".format(text, domain))
    if len(domain) + 1 + len(path) > MAX_NAME_LENGTH:
        raise InvalidInput(
            "image reference {0!r}: repository name is longer than {1} characters".format(text, MAX_NAME_LENGTH))
    return domain, path


def split_domain(name: str) -> tuple[str, str]:
    """Split ``name`` into (domain, path), applying Docker Hub's defaults."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    return domain, path


def carries_digest(image: dict | None, repository: str, digest: str | None) -> bool:
    """Whether the engine recorded ``repository@digest`` for the image: it does so for every manifest it pushed
    or pulled for that repository."""
    return digest is not None and "{0}@{1}".format(repository, digest) in ((image or {}).get("RepoDigests") or [])


def looks_like_image_id(text: str) -> bool:
    """True for a full or short image id (``sha256:...`` or 12+ hex digits)."""
    return bool(_IMAGE_ID_RE.match(text))


def parse_image_name(text: str, default_tag: str | None = DEFAULT_TAG) -> ImageReference | None:
    """Parse a name that may also be an image id; return None for an id."""
    if looks_like_image_id(text) and (text.startswith("sha256:") or len(text) == 64):
        return None
    return parse_reference(text, default_tag=default_tag)


def tagged_name(name: str, tag: str | None) -> str:
    """``name`` with ``tag`` when it names a repository without tag or digest; ids and other names unchanged."""
    ref = parse_image_name(name, default_tag=None)
    if tag is None or ref is None or ref.tag or ref.digest:
        return name
    return ref.with_tag(tag).familiar_tagged()


def check_platform(platform: str | None) -> None:
    """Raise InvalidInput unless ``platform`` is empty or ``os[/arch[/variant]]``."""
    if platform and not _PLATFORM_RE.match(platform):
        raise InvalidInput("platform {0!r} is not os[/arch[/variant]], for example linux/amd64 or "
                           "linux/arm64/v8".format(platform))


# containerd's platforms.Normalize, which the engine applies to every platform it is given.
_ARCH_ALIASES = {"i386": ("386", ""), "x86_64": ("amd64", ""), "x86-64": ("amd64", ""), "aarch64": ("arm64", ""),
                 "armhf": ("arm", "v7"), "armel": ("arm", "v6")}
_ARM_VARIANTS = {"5": "v5", "6": "v6", "7": "v7", "8": "v8"}


def normalize_platform(platform: str) -> tuple:
    """(os, architecture, variant) of ``os[/arch[/variant]]`` as the engine reads it: ``linux/x86_64`` is
    ``linux/amd64``, ``linux/aarch64`` and ``linux/arm64/v8`` are ``linux/arm64``, ``linux/arm`` is ``linux/arm/v7``."""
    parts = platform.lower().split("/") + ["", ""]
    system, arch, variant = parts[0], parts[1], parts[2]
    arch, implied = _ARCH_ALIASES.get(arch, (arch, ""))
    variant = variant or implied
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""
    elif arch == "arm":
        variant = _ARM_VARIANTS.get(variant, variant) or "v7"
    return system, arch, variant


def platform_name(value: object) -> str | None:
    """``os/arch[/variant]`` of an OCI platform object or an image config, None when it names none (attestations
    name unknown/unknown)."""
    if not isinstance(value, dict):
        return None
    parts = [value.get("os"), value.get("architecture"), value.get("variant")]
    if not all(isinstance(part, str) and part and part != "unknown" for part in parts[:2]):
        return None
    return "/".join(part for part in parts if isinstance(part, str) and part)


def platform_json(platform: str | None) -> str | None:
    """The JSON-encoded OCI platform object newer endpoints take as ``platform`` (API 1.46+)."""
    if not platform:
        return None
    check_platform(platform)
    system, arch, variant = normalize_platform(platform)
    fields = {"os": system, "architecture": arch, "variant": variant}
    return json.dumps({key: value for key, value in fields.items() if value}, sort_keys=True)


def platform_matches(image: dict, platform: str | None) -> bool:
    """Whether an inspected image is of ``platform`` (``os[/arch[/variant]]``); True when none is asked.

    Both sides are normalised as the engine does, so ``linux/x86_64`` matches an ``amd64`` image; a platform
    without architecture or variant matches any.
    """
    if not platform:
        return True
    given = len(platform.split("/"))
    wanted = normalize_platform(platform)
    actual = normalize_platform("/".join(str(image.get(key) or "") for key in ("Os", "Architecture", "Variant")))
    compared = 3 if given >= 2 and wanted[1] == "arm" else given
    return wanted[:compared] == actual[:compared]
