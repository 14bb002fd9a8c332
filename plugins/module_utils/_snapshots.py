# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Snapshots (image_import, image_commit): a fingerprint of what produced an image, kept in its comment.

A rerun compares the fingerprint of its own inputs with the one the image carries, so it can tell that the
image is already what the task would produce without comparing layers.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._references import ImageReference, parse_reference

# The instructions POST /images/create?fromSrc= documents for ``changes``; POST /commit also takes LABEL.
# The instructions the engine applies to a commit's or an import's configuration (its builder's
# validCommitCommands; both operations go through the same BuildFromConfig).
CHANGE_INSTRUCTIONS = frozenset(("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL",
                                 "USER", "VOLUME", "WORKDIR"))

# The options import and commit share: where the image goes and what shapes its configuration.
SNAPSHOT_OPTIONS = {
    "repository": {"type": "str", "required": True},
    "tag": {"type": "str", "default": "latest"},
    "comment": {"type": "str"},
    "changes": {"type": "list", "elements": "str", "default": []},
    "force": {"type": "bool", "default": False},
}

_STAMP_RE = re.compile(r"\[moby\.engine (?P<operation>[a-z_]+) (?P<fingerprint>sha256:[0-9a-f]{64})\]\s*$")


def fingerprint(**inputs: Any) -> str:
    """A stable digest of everything that decides what an operation produces."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def stamp_comment(message: Optional[str], operation: str, digest: str) -> str:
    """The image comment to send: the user's message followed by ``[moby.engine <operation> <digest>]``."""
    stamp = "[moby.engine {0} {1}]".format(operation, digest)
    return "{0} {1}".format(message, stamp) if message else stamp


def recorded_fingerprint(image: Optional[dict], operation: str) -> Optional[str]:
    """The fingerprint stamp_comment() left in an inspected image's Comment, if ``operation`` made it."""
    match = _STAMP_RE.search((image or {}).get("Comment") or "")
    if match and match.group("operation") == operation:
        return match.group("fingerprint")
    return None


def validate_changes(changes: Optional[list]) -> list[str]:
    """The Dockerfile instructions of ``changes``, stripped; raise InvalidInput naming a bad one."""
    validated = []
    for position, change in enumerate(changes or []):
        text = str(change).strip()
        if "\n" in text or "\r" in text:
            # The engine parses changes as Dockerfile lines: a line break would smuggle in further instructions.
            raise InvalidInput("changes[{0}] {1!r} holds a line break; give each instruction as its own element of "
                               "changes".format(position, text))
        instruction, _sep, argument = text.partition(" ")
        if instruction.upper() not in CHANGE_INSTRUCTIONS or not argument.strip():
            raise InvalidInput(
                "changes[{0}] {1!r} is not an instruction the engine accepts here; use one of {2} followed by "
                "its argument, for example 'ENV DEBUG=1'".format(position, text, ", ".join(sorted(CHANGE_INSTRUCTIONS))))
        validated.append(text)
    return validated


def target_reference(repository: str, tag: str) -> ImageReference:
    """``repository`` (which may carry its own tag) tagged with ``tag`` when it carries none."""
    ref = parse_reference(repository)
    if ref.digest:
        raise InvalidInput("repository {0!r} carries a digest; give a repository and a tag".format(repository))
    return ref if ref.tag else ref.with_tag(tag)


def snapshot_decision(before: Optional[dict], operation: str, digest: str, force: bool) -> tuple:
    """The idempotency decision of import and commit: (make the image?, why)."""
    if force:
        return True, "force is set"
    if before is None:
        return True, "the tag names no image yet"
    recorded = recorded_fingerprint(before, operation)
    if recorded is None:
        return True, "the tag names an image this module's {0} did not make".format(operation)
    if recorded != digest:
        return True, "the tag names an image made from another source or with other options"
    return False, "the tag already names an image made from this source with these options"


def snapshot_result(target: str, before: Optional[dict], after: Optional[dict], decision: tuple, check_mode: bool,
                    operation: str, digest: str) -> dict[str, Any]:
    """The result of import or commit: change, fingerprint, the image ``target`` names, and the diff.

    ``after`` is the image after the task; in check mode a predicted new image does not exist yet,
    so the diff shows no id for it, only the fingerprint it would carry.
    """
    changed, reason = decision
    made = after is not None and not (changed and check_mode)
    after_state = {"tag": target, "id": after["Id"] if made else None,
                   "fingerprint": recorded_fingerprint(after, operation) if made else digest}
    result: dict[str, Any] = {
        "changed": changed, "reason": reason, "fingerprint": digest,
        "diff": {"before": {"tag": target, "id": (before or {}).get("Id"),
                            "fingerprint": recorded_fingerprint(before, operation)},
                 "after": after_state},
    }
    if after is not None:
        result["image"] = after
    return result
