# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_push's promotion to several registries: destinations, their local names, and the final check that
every registry holds the same manifest; the summary of a push's layers; and which manifest a pushed platform is."""

from __future__ import annotations

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._references import (
    DEFAULT_TAG,
    ImageReference,
    parse_reference,
)


def decide_tag(current_id: str | None, source_id: str) -> tuple:
    """Whether a destination's local name must be (re)set to the source image, as image_tag decides: (tag?, why)."""
    if current_id is None:
        return True, "the local name is missing"
    if current_id != source_id:
        return True, "the local name points at another image"
    return False, "the local name already points at the image"


def destination_references(destinations: list, source: ImageReference) -> list:
    """The destinations as references; one without a tag gets the tag of the source image."""
    refs, seen = [], set()
    for text in destinations:
        ref = parse_reference(text)
        if ref.digest:
            raise InvalidInput("destination {0!r} names a digest; a push sends a tag, so name the tag instead".format(
                text))
        ref = ref if ref.tag else ref.with_tag(source.tag or DEFAULT_TAG)
        if ref.familiar_tagged() in seen:
            raise InvalidInput("destination {0} is given twice".format(ref.familiar_tagged()))
        seen.add(ref.familiar_tagged())
        refs.append(ref)
    return refs


def disagreements(known: dict, read: dict) -> list:
    """What the final check of the destinations found wrong: each a sentence naming the destination.

    ``known`` maps a destination to the digest its push reported (or the registry held already); ``read`` to the
    digest its registry holds when read again. Every registry must hold what was pushed, and all the same.
    """
    problems = ["{0}: the registry holds {1}, but the push reported {2}".format(name, read.get(name), digest)
                for name, digest in known.items() if digest and read.get(name) != digest]
    if not problems and len(set(read.values())) > 1:
        problems.append("the registries hold different manifests: " + ", ".join(
            "{0} has {1}".format(name, digest) for name, digest in read.items()))
    return problems


def layer_summary(layers: dict) -> dict:
    """Layer ids grouped by the final status the push stream gave them."""
    summary: dict = {"pushed": [], "existed": [], "mounted": []}
    for layer, status in sorted(layers.items()):
        if status == "Pushed":
            summary["pushed"].append(layer)
        elif status == "Layer already exists":
            summary["existed"].append(layer)
        elif status.startswith("Mounted from"):
            summary["mounted"].append(layer)
        else:
            summary.setdefault("other", []).append(layer)
    return summary


def manifest_digest(image: dict) -> str | None:
    """The digest of the single manifest an inspected image (or platform of one) is, when the engine says so: the
    containerd image store gives a ``Descriptor`` (API 1.48+), which for one platform names its manifest; None for
    an index and where there is no Descriptor (the classic store)."""
    descriptor = image.get("Descriptor") or {}
    media_type = str(descriptor.get("mediaType") or "")
    if media_type.endswith(("manifest.v1+json", "manifest.v2+json")) and "list" not in media_type:
        return descriptor.get("digest")
    return None
