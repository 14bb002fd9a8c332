# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decoding of the engine's streamed JSON progress (pull, push, build, load, import)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from typing import Any

from ansible_collections.moby.engine.plugins.module_utils._errors import StreamError

LOG_TAIL_LINES = 20
_decoder = json.JSONDecoder()


def decode_json_stream(chunks: Iterable[bytes]) -> Iterator[dict]:
    """Yield each JSON object of a stream of concatenated or newline-separated objects.

    Chunk boundaries fall anywhere, so undecoded text is carried over.  Bytes that
    are not UTF-8 (a build step may print anything) are replaced, not fatal.
    """
    # Incremental, so a multi-byte character split by a chunk boundary is decoded whole.
    utf8 = codecs.getincrementaldecoder("utf-8")("replace")
    # Decoding is tried only once a line is complete (the engine ends every message with a newline), so a
    # message of many chunks is joined and parsed once, not re-parsed for every chunk that arrives.
    pending: list = []
    for chunk in chunks:
        if not chunk:
            continue
        text = utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        end = text.rfind("\n")
        if end < 0:
            pending.append(text)
            continue
        pending.append(text[:end + 1])
        objects, rest = _decode_objects("".join(pending))
        pending = [rest, text[end + 1:]]
        yield from objects
    pending.append(utf8.decode(b"", final=True))
    objects, rest = _decode_objects("".join(pending))
    yield from objects
    if rest.strip():
        raise StreamError("the engine's response ended in the middle of a message: {0!r}".format(rest[:200]))


def _decode_objects(text: str) -> tuple:
    """(the dicts ``text`` holds one after another, the undecoded rest)."""
    objects = []
    position, length = 0, len(text)
    while True:
        while position < length and text[position].isspace():
            position += 1
        if position == length:
            return objects, ""
        try:
            obj, position = _decoder.raw_decode(text, position)
        except ValueError:
            return objects, text[position:]
        if isinstance(obj, dict):
            objects.append(obj)


class ProgressSummary:
    """A compact record of a progress stream: final state per layer, messages, aux data.

    Progress ticks ("Downloading", with progressDetail) are folded into the
    layer's last status instead of being kept one by one.
    """

    def __init__(self) -> None:
        self.layers: dict[str, str] = {}
        self.messages: list[str] = []
        self.log: list[str] = []
        self.aux: list[dict] = []

    def add(self, message: dict) -> None:
        error = message.get("error") or (message.get("errorDetail") or {}).get("message")
        if error:
            raise StreamError(str(error).strip(), log_tail=self.log[-LOG_TAIL_LINES:])
        if "aux" in message and isinstance(message["aux"], dict):
            self.aux.append(message["aux"])
        if "stream" in message:
            for line in str(message["stream"]).splitlines():
                if line.strip():
                    self.log.append(line.rstrip())
        status = message.get("status")
        if status:
            # Only progress messages (they carry progressDetail) are about a layer; a status with an id
            # but no progressDetail ("Pulling from library/busybox", id "1.36") is a plain message.
            layer = message.get("id") if "progressDetail" in message else None
            if layer and status in ("Downloading", "Extracting", "Pushing", "Loading layer"):
                self.layers.setdefault(layer, status)
            elif layer:
                self.layers[layer] = status
            else:
                self.messages.append(status)

    def consume(self, messages: Iterable[dict]) -> "ProgressSummary":
        for message in messages:
            self.add(message)
        return self

    def layer_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in self.layers.values():
            counts[status] = counts.get(status, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"messages": self.messages, "layers": self.layer_counts()}
        if self.log:
            result["log"] = self.log
        if self.aux:
            result["aux"] = self.aux
        return result
