# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils import _stream
from ansible_collections.moby.engine.plugins.module_utils._errors import EngineAPIError, StreamError
from ansible_collections.moby.engine.plugins.module_utils._stream import (
    LOG_TAIL_LINES,
    ProgressSummary,
    decode_json_stream,
)

LAYER_A = "a1b2c3d4e5f6"
LAYER_B = "0f9e8d7c6b5a"
DIGEST = "sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb"

# The engine's answer to POST /images/create?fromImage=busybox&tag=1.36, message by message.
PULL_MESSAGES = [
    {"status": "Pulling from library/busybox", "id": "1.36"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": LAYER_A},
    {"status": "Already exists", "progressDetail": {}, "id": LAYER_B},
    {"status": "Downloading", "progressDetail": {"current": 1024, "total": 2048},
     "progress": "[=========================>                         ]  1.024kB/2.048kB", "id": LAYER_A},
    {"status": "Downloading", "progressDetail": {"current": 2048, "total": 2048},
     "progress": "[==================================================>]  2.048kB/2.048kB", "id": LAYER_A},
    {"status": "Verifying Checksum", "progressDetail": {}, "id": LAYER_A},
    {"status": "Download complete", "progressDetail": {}, "id": LAYER_A},
    {"status": "Extracting", "progressDetail": {"current": 2048, "total": 2048},
     "progress": "[==================================================>]  2.048kB/2.048kB", "id": LAYER_A},
    {"status": "Pull complete", "progressDetail": {}, "id": LAYER_A},
    {"status": "Digest: " + DIGEST},
    {"status": "Status: Downloaded newer image for busybox:1.36"},
]


def lines(messages, separator="\r\n"):
    return "".join(json.dumps(message) + separator for message in messages).encode("utf-8")


def split_every(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


# -- decoding ----------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100000])
def test_objects_split_across_chunks(size):
    data = lines(PULL_MESSAGES)
    assert list(decode_json_stream(split_every(data, size))) == PULL_MESSAGES


def test_concatenated_objects_without_newlines():
    assert list(decode_json_stream([b'{"a":1}{"b":2}', b'{"c":', b'3}'])) == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_crlf_and_blank_separators():
    assert list(decode_json_stream([b'{"a":1}\r\n', b'\r\n  {"b":2}\r', b'\n'])) == [{"a": 1}, {"b": 2}]


def test_empty_chunks_and_empty_stream():
    assert list(decode_json_stream([])) == []
    assert list(decode_json_stream([b"", b"\r\n", b""])) == []
    assert list(decode_json_stream([b"", b'{"a":1}', b""])) == [{"a": 1}]


def test_non_utf8_build_output_is_replaced():
    data = b'{"stream":"Step 1/2 : RUN printf x\\n"}\r\n{"stream":"caf\xe9 \xff\xfe ok\\n"}\r\n{"stream":"done"}'
    messages = list(decode_json_stream([data[:40], data[40:]]))
    assert messages == [{"stream": "Step 1/2 : RUN printf x\n"},
                        {"stream": "caf\ufffd \ufffd\ufffd ok\n"},
                        {"stream": "done"}]


def test_multibyte_character_split_across_chunks():
    # A valid UTF-8 character must survive a chunk boundary falling inside it.
    data = '{"stream":"caf\u00e9 \u2713\\n"}\n'.encode("utf-8")
    cut = data.index(b"\xc3") + 1
    chunks = [data[:cut], data[cut:]]
    assert list(decode_json_stream(chunks)) == [{"stream": "caf\u00e9 \u2713\n"}]
    assert list(decode_json_stream(split_every(data, 1))) == [{"stream": "caf\u00e9 \u2713\n"}]


def test_truncated_stream_raises():
    with pytest.raises(StreamError) as exc:
        list(decode_json_stream([b'{"status":"a"}\r\n{"status":"Down']))
    assert "ended in the middle of a message" in str(exc.value)
    assert '{"status":"Down' in str(exc.value)


def test_truncated_stream_yields_complete_messages_first():
    seen = []
    with pytest.raises(StreamError):
        for message in decode_json_stream([b'{"status":"a"}\n{"sta']):
            seen.append(message)
    assert seen == [{"status": "a"}]


def test_non_object_values_are_skipped():
    assert list(decode_json_stream([b'1 "x" [2] {"a":1}'])) == [{"a": 1}]


# -- summary -----------------------------------------------------------------

def test_progress_ticks_folded_per_layer():
    summary = ProgressSummary().consume(PULL_MESSAGES)
    assert summary.layers == {LAYER_A: "Pull complete", LAYER_B: "Already exists"}
    assert summary.layer_counts() == {"Pull complete": 1, "Already exists": 1}


def test_pull_summary_as_dict():
    summary = ProgressSummary().consume(decode_json_stream([lines(PULL_MESSAGES)]))
    assert summary.as_dict() == {
        "messages": ["Pulling from library/busybox", "Digest: " + DIGEST,
                     "Status: Downloaded newer image for busybox:1.36"],
        "layers": {"Pull complete": 1, "Already exists": 1},
    }


def test_ticks_do_not_replace_a_layer_status():
    summary = ProgressSummary()
    summary.consume(PULL_MESSAGES[:4])
    # "Downloading" ticks after "Pulling fs layer" are folded away, not recorded as the state.
    assert summary.layers == {LAYER_A: "Pulling fs layer", LAYER_B: "Already exists"}
    summary.consume(PULL_MESSAGES[4:7])
    assert summary.layers[LAYER_A] == "Download complete"
    summary.add(PULL_MESSAGES[7])
    assert summary.layers[LAYER_A] == "Download complete"


def test_tick_before_any_other_status_sets_layer():
    summary = ProgressSummary().consume([
        {"status": "Downloading", "progressDetail": {"current": 1, "total": 2}, "id": LAYER_A},
        {"status": "Downloading", "progressDetail": {"current": 2, "total": 2}, "id": LAYER_A},
    ])
    assert summary.layers == {LAYER_A: "Downloading"}


def test_push_summary():
    summary = ProgressSummary().consume([
        {"status": "The push refers to repository [registry.example.com/team/app]"},
        {"status": "Preparing", "progressDetail": {}, "id": LAYER_A},
        {"status": "Pushing", "progressDetail": {"current": 512, "total": 1024}, "id": LAYER_A},
        {"status": "Pushed", "progressDetail": {}, "id": LAYER_A},
        {"status": "Layer already exists", "progressDetail": {}, "id": LAYER_B},
        {"status": "1.0: digest: " + DIGEST + " size: 528"},
        {"progressDetail": {}, "aux": {"Tag": "1.0", "Digest": DIGEST, "Size": 528}},
    ])
    assert summary.as_dict() == {
        "messages": ["The push refers to repository [registry.example.com/team/app]",
                     "1.0: digest: " + DIGEST + " size: 528"],
        "layers": {"Pushed": 1, "Layer already exists": 1},
        "aux": [{"Tag": "1.0", "Digest": DIGEST, "Size": 528}],
    }


def test_build_stream_log_and_aux():
    summary = ProgressSummary().consume([
        {"stream": "Step 1/2 : FROM busybox\n"},
        {"stream": " ---> 3f57d9401f8d\n"},
        {"stream": "Step 2/2 : RUN true\r\n\n"},
        {"aux": {"ID": "sha256:abc"}},
        {"aux": "not a dict"},
        {"stream": "Successfully built abc\n"},
    ])
    assert summary.log == ["Step 1/2 : FROM busybox", " ---> 3f57d9401f8d", "Step 2/2 : RUN true",
                           "Successfully built abc"]
    assert summary.aux == [{"ID": "sha256:abc"}]
    assert summary.as_dict() == {"messages": [], "layers": {}, "log": summary.log, "aux": [{"ID": "sha256:abc"}]}


def test_error_raises_with_message_and_log_tail():
    messages = [{"stream": "line {0}\n".format(i)} for i in range(30)]
    failure = "The command '/bin/sh -c false' returned a non-zero code: 1"
    messages.append({"errorDetail": {"code": 1, "message": failure},
                     "error": "The command '/bin/sh -c false' returned a non-zero code: 1\n"})
    messages.append({"stream": "never read\n"})
    summary = ProgressSummary()
    with pytest.raises(StreamError) as exc:
        summary.consume(messages)
    assert isinstance(exc.value, EngineAPIError)
    assert exc.value.message == "The command '/bin/sh -c false' returned a non-zero code: 1"
    assert str(exc.value) == exc.value.message
    assert LOG_TAIL_LINES == 20
    assert exc.value.log_tail == ["line {0}".format(i) for i in range(10, 30)]


def test_error_detail_only():
    with pytest.raises(StreamError) as exc:
        ProgressSummary().add({"errorDetail": {"message": "manifest for busybox:nope not found"}})
    assert str(exc.value) == "manifest for busybox:nope not found"
    assert exc.value.log_tail == []


def test_pull_error_in_stream():
    data = lines(PULL_MESSAGES[:2]) + lines([{
        "errorDetail": {"message": "unauthorized: authentication required"},
        "error": "unauthorized: authentication required"}])
    with pytest.raises(StreamError) as exc:
        ProgressSummary().consume(decode_json_stream(split_every(data, 5)))
    assert str(exc.value) == "unauthorized: authentication required"


def test_one_large_message_in_many_chunks_is_parsed_once(monkeypatch):
    # Parsing on every chunk made a 16 MiB message cost quadratic time; it must be parsed once, when complete.
    calls = []
    real = _stream._decoder.raw_decode

    def counting(text, index=0):
        calls.append(len(text) - index)
        return real(text, index)

    monkeypatch.setattr(_stream._decoder, "raw_decode", counting)
    message = (json.dumps({"stream": "x" * (4 * 1024 * 1024)}) + "\r\n").encode("utf-8")
    chunks = [message[start:start + 65536] for start in range(0, len(message), 65536)]
    assert list(decode_json_stream(chunks)) == [{"stream": "x" * (4 * 1024 * 1024)}]
    assert len(chunks) == 65 and len(calls) == 1
