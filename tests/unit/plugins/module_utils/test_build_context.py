# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Build contexts: .dockerignore rules, the digest, and the streamed tar (on real temporary directories)."""

from __future__ import annotations

import io
import os
import tarfile
import tracemalloc

import pytest

from ansible_collections.moby.engine.plugins.module_utils._build_context import (
    CHUNK_SIZE,
    BuildContext,
    DockerIgnore,
    base_images,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._files import parse_size


def make_context(root, files, dockerfile="FROM busybox\nCOPY . /ctx\n"):
    """Create files ({path: content or None for a directory}) under root, plus a Dockerfile."""
    if dockerfile is not None:
        (root / "Dockerfile").write_text(dockerfile)
    for path, content in files.items():
        target = root / path
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    return str(root)


def sent_names(context):
    return [entry.name for entry in context.entries()]


def untar(context):
    data = b"".join(context.tar_stream())
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:")


# -- .dockerignore ------------------------------------------------------------

@pytest.mark.parametrize("patterns, path, excluded", [
    (["*.log"], "a.log", True),
    (["*.log"], "sub/a.log", False),           # "*" does not cross "/"
    (["**/*.log"], "sub/deep/a.log", True),
    (["**/*.log"], "a.log", True),             # "**/" also matches zero directories
    (["sub/**"], "sub/x/y", True),
    (["sub/**"], "sub", False),
    (["?.txt"], "a.txt", True),
    (["?.txt"], "ab.txt", False),
    (["build"], "build/out/file", True),        # a directory pattern excludes what is inside
    (["/build"], "build", True),                # a leading "/" is the context root
    (["./build/"], "build", True),
    (["build"], "src/build", False),            # patterns are anchored at the root
    (["*", "!keep"], "keep", False),
    (["*", "!keep"], "other", True),
    (["*.md", "!README.md", "README.md"], "README.md", True),   # the last match wins
    (["docs", "!docs/keep.md"], "docs/keep.md", False),
    (["docs", "!docs/keep.md"], "docs/drop.md", True),
    (["# comment", "a"], "# comment", False),
    (["  a.txt  "], "a.txt", True),             # surrounding spaces are trimmed
    (["a+b(c).txt"], "a+b(c).txt", True),       # regexp characters are literal
    (["a.txt"], "aXtxt", False),
    (["[ab].txt"], "b.txt", True),              # character classes work
    (["sub/../x"], "x", True),                  # patterns are cleaned
])
def test_dockerignore_rules(patterns, path, excluded):
    assert DockerIgnore(patterns).excludes(path) is excluded


def test_ignored_files_and_exceptions_in_the_walk(tmp_path):
    root = make_context(tmp_path, {
        ".dockerignore": "# caches\nnode_modules\n*.log\n!important.log\n/secret\n",
        "node_modules/pkg/index.js": "x", "app.log": "x", "important.log": "x", "secret": "x",
        "src/secret": "x", "src/main.py": "x", "empty": None,
    })
    assert sent_names(BuildContext(root)) == [
        ".dockerignore", "Dockerfile", "empty", "important.log", "src", "src/main.py", "src/secret"]


def test_nested_secrets_stay_out_with_an_unrelated_exception(tmp_path):
    # issue 13: "!README.md" used to make "**/secrets" check a single parent, so these were sent.
    root = make_context(tmp_path, {
        ".dockerignore": "\ufeff**/secrets\n!README.md\n", "README.md": "x", "secrets/id_rsa": "x",
        "app/config/secrets/token": "x", "app/config/settings": "x", "docs/secrets.txt": "x",
    })
    assert sent_names(BuildContext(root)) == [
        ".dockerignore", "Dockerfile", "README.md", "app", "app/config", "app/config/settings", "docs", "docs/secrets.txt"]


def scanned_directories(monkeypatch, context):
    scanned = []
    real_scandir = os.scandir

    def spy(path):
        scanned.append(os.path.relpath(path, context.root))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    names = sent_names(context)
    monkeypatch.undo()
    return names, scanned


def test_left_out_directories_are_not_walked_when_no_exception_reaches_inside(tmp_path, monkeypatch):
    files = {".dockerignore": "node_modules\n!README.md\n", "README.md": "x"}
    files.update(("node_modules/pkg{0}/index.js".format(number), "x") for number in range(50))
    names, scanned = scanned_directories(monkeypatch, BuildContext(make_context(tmp_path, files)))
    assert names == [".dockerignore", "Dockerfile", "README.md"]
    assert scanned == ["."]


def test_left_out_directories_are_walked_when_an_exception_may_reach_inside(tmp_path, monkeypatch):
    root = make_context(tmp_path, {
        ".dockerignore": "node_modules\nbuild\n!**/LICENSE\n!build/keep/**\n", "node_modules/a/LICENSE": "x",
        "node_modules/a/index.js": "x", "build/keep/out": "x", "build/drop/out": "x",
    })
    names, scanned = scanned_directories(monkeypatch, BuildContext(root))
    assert names == [".dockerignore", "Dockerfile", "build/keep/out", "node_modules/a/LICENSE"]
    # "!**/LICENSE" may match at any depth, so every left-out directory is walked.
    assert sorted(scanned) == [".", "build", "build/drop", "build/keep", "node_modules", "node_modules/a"]


def test_only_directories_an_exception_can_reach_are_walked(tmp_path, monkeypatch):
    root = make_context(tmp_path, {".dockerignore": "build\n!build/keep/**\n", "build/keep/out": "x", "build/drop/out": "x"})
    names, scanned = scanned_directories(monkeypatch, BuildContext(root))
    assert names == [".dockerignore", "Dockerfile", "build/keep/out"]
    assert sorted(scanned) == [".", "build", "build/keep"]


def test_a_dockerignore_docker_would_refuse_fails_the_context(tmp_path):
    root = make_context(tmp_path, {".dockerignore": "a\n!\n"})
    with pytest.raises(InvalidInput, match="an exception needs a path"):
        BuildContext(root)


def test_dockerfile_and_dockerignore_are_always_sent(tmp_path):
    root = make_context(tmp_path, {".dockerignore": "*\n", "docker/app.Dockerfile": "FROM busybox\n",
                                   "data": "x"}, dockerfile=None)
    context = BuildContext(root, "docker/app.Dockerfile")
    assert context.dockerfile_name == "docker/app.Dockerfile"
    assert sent_names(context) == [".dockerignore", "docker/app.Dockerfile"]


def test_dockerfile_outside_the_context_is_added(tmp_path):
    context_dir = tmp_path / "ctx"
    context_dir.mkdir()
    make_context(context_dir, {"a": "1"}, dockerfile=None)
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text("FROM busybox\n")
    context = BuildContext(str(context_dir), str(outside))
    assert context.dockerfile_name.startswith(".dockerfile.")
    with untar(context) as tar:
        assert tar.extractfile(context.dockerfile_name).read() == b"FROM busybox\n"
    assert sent_names(context) == ["a", context.dockerfile_name]


@pytest.mark.parametrize("dockerfile, message", [
    ("missing.Dockerfile", "does not exist"),
    ("/nonexistent/Dockerfile", "/nonexistent/Dockerfile does not exist"),
])
def test_missing_dockerfile_is_a_clear_error(tmp_path, dockerfile, message):
    root = make_context(tmp_path, {}, dockerfile=None)
    with pytest.raises(InvalidInput, match=message):
        BuildContext(root, dockerfile)


def test_missing_context_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInput, match="build context .*/nope does not exist"):
        BuildContext(str(tmp_path / "nope"))


# -- digest --------------------------------------------------------------------

def test_digest_is_stable_and_ignores_mtime_and_ignored_files(tmp_path):
    root = make_context(tmp_path, {".dockerignore": "*.tmp\n", "a.txt": "a", "b/c.txt": "c", "x.tmp": "1"})
    first = BuildContext(root).digest({"build_args": {"A": "1"}})
    assert first.startswith("sha256:") and len(first) == 71
    os.utime(os.path.join(root, "a.txt"), (1, 1))
    (tmp_path / "x.tmp").write_text("changed, but ignored")
    (tmp_path / "y.tmp").write_text("new, but ignored")
    assert BuildContext(root).digest({"build_args": {"A": "1"}}) == first


def test_digest_does_not_depend_on_creation_order(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    make_context(one, {"a": "1", "b": "2", "d/e": "3"})
    make_context(two, {"d/e": "3", "b": "2", "a": "1"})
    assert BuildContext(str(one)).digest({}) == BuildContext(str(two)).digest({})


@pytest.mark.parametrize("change", ["content", "mode", "new file", "rename", "dockerfile", "inputs", "symlink"])
def test_digest_changes_with_what_determines_the_build(tmp_path, change):
    root = make_context(tmp_path, {"a.txt": "a"})
    os.symlink("a.txt", os.path.join(root, "link"))
    inputs = {"build_args": {"A": "1"}, "target": None}
    before = BuildContext(root).digest(inputs)
    if change == "content":
        (tmp_path / "a.txt").write_text("b")
    elif change == "mode":
        os.chmod(os.path.join(root, "a.txt"), 0o755)
    elif change == "new file":
        (tmp_path / "n.txt").write_text("")
    elif change == "rename":
        os.rename(os.path.join(root, "a.txt"), os.path.join(root, "b.txt"))
    elif change == "dockerfile":
        (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    elif change == "inputs":
        inputs = {"build_args": {"A": "2"}, "target": None}
    elif change == "symlink":
        os.remove(os.path.join(root, "link"))
        os.symlink("Dockerfile", os.path.join(root, "link"))
    assert BuildContext(root).digest(inputs) != before


# -- tar stream -----------------------------------------------------------------

def test_tar_keeps_modes_mtimes_symlinks_and_owns_files_by_root(tmp_path):
    root = make_context(tmp_path, {"bin/run.sh": "#!/bin/sh\n", "data/" + "n" * 120: "long name"})
    os.chmod(os.path.join(root, "bin/run.sh"), 0o750)
    os.utime(os.path.join(root, "bin/run.sh"), (1000000000, 1000000000))
    os.symlink("bin/run.sh", os.path.join(root, "run"))
    context = BuildContext(root)
    with untar(context) as tar:
        members = {member.name: member for member in tar.getmembers()}
        script = members["bin/run.sh"]
        assert script.mode == 0o750 and script.mtime == 1000000000
        assert (script.uid, script.gid, script.uname, script.gname) == (0, 0, "", "")
        assert members["run"].issym() and members["run"].linkname == "bin/run.sh"
        assert members["bin"].isdir()
        assert tar.extractfile("data/" + "n" * 120).read() == b"long name"
    assert context.sent_bytes == len(b"".join(context.tar_stream()))


def test_tar_stream_is_memory_flat(tmp_path):
    size = 48 * 1024 * 1024
    with open(tmp_path / "big.bin", "wb") as handle:
        handle.truncate(size)   # sparse: costs no disk, reads back as zeros
    context = BuildContext(make_context(tmp_path, {"small": "x"}))
    total = largest = 0
    tracemalloc.start()
    try:
        for chunk in context.tar_stream():
            total += len(chunk)
            largest = max(largest, len(chunk))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total > size
    assert largest < CHUNK_SIZE + 512 * 1024
    # A few chunks in flight at most, whatever the context size.
    assert peak < 6 * CHUNK_SIZE


def test_file_that_shrinks_during_the_upload_is_an_error(tmp_path):
    root = make_context(tmp_path, {})
    with open(tmp_path / "a", "wb") as handle:
        handle.truncate(3 * CHUNK_SIZE)
    stream = BuildContext(root).tar_stream()
    next(stream)  # the upload is now inside "a"
    with open(tmp_path / "a", "wb") as handle:
        handle.truncate(CHUNK_SIZE)
    with pytest.raises(InvalidInput, match="shrank while the build context was being sent"):
        list(stream)


# -- Dockerfile base images and sizes ----------------------------------------------------

def test_base_images_follow_args_stages_and_flags():
    dockerfile = "\n".join([
        "# escape=\\",
        "ARG BASE=busybox:1.36",
        "ARG REGISTRY",
        "FROM --platform=linux/amd64 ${BASE} AS build",
        "RUN make",
        "FROM \\",
        "  $REGISTRY/team/runtime:${TAG:-2} AS runtime",
        "FROM build",
        "FROM scratch",
        "COPY --from=build /out /",
    ])
    assert base_images(dockerfile, {"REGISTRY": "registry.example.com:5000"}) == [
        "busybox:1.36", "registry.example.com:5000/team/runtime:2"]
    assert base_images(dockerfile, {"BASE": "alpine:3", "REGISTRY": "r.example.com"})[0] == "alpine:3"


@pytest.mark.parametrize("value, expected", [
    (None, None), (1024, 1024), ("1024", 1024), ("512m", 512 * 1024 ** 2), ("2g", 2 * 1024 ** 3),
    ("2GB", 2 * 1024 ** 3), ("1.5k", 1536), ("64MiB", 64 * 1024 ** 2), (-1, -1),
])
def test_parse_size(value, expected):
    assert parse_size(value, "memory") == expected


@pytest.mark.parametrize("value", ["lots", "12q", "-5m", True])
def test_parse_size_rejects_nonsense(value):
    with pytest.raises(InvalidInput, match="memory must be a size such as"):
        parse_size(value, "memory")
