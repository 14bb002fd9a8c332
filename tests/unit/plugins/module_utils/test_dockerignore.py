# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

""".dockerignore: the cases of moby/patternmatcher's and ignorefile's own tests, as data, plus ours."""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.moby.engine.plugins.module_utils import _dockerignore
from ansible_collections.moby.engine.plugins.module_utils._build_context import BuildContext
from ansible_collections.moby.engine.plugins.module_utils._dockerignore import (
    DOCKERIGNORE_MAX_SIZE,
    DockerIgnore,
    IgnorePattern,
    go_clean,
    read_patterns,
    split_lines,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput

# -- upstream: patternmatcher_test.go ------------------------------------------------

# (pattern, path, excluded): TestMatches' single-pattern table.
UPSTREAM_MATCHES = [
    ("**", "file", True), ("**", "file/", True), ("**/", "file", True), ("**/", "file/", True),
    ("**", "/", True), ("**/", "/", True), ("**", "dir/file", True), ("**/", "dir/file", True),
    ("**", "dir/file/", True), ("**/", "dir/file/", True), ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True), ("dir/**", "dir/file", True), ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True), ("dir/**", "dir/dir2/file/", True), ("**/dir", "dir", True),
    ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True), ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True), ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True), ("**file", "dir/file", True), ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True), ("**/file", "dir/dir/file", True), ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True), ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True), ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True), ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True), ("**/**/*.txt", "file.txt", True), ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True), ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False), ("a/*.txt", "a/file.txt", True), ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True),
    (".*", ".foo", True), (".*", "foo", False), ("abc.def", "abcdef", False), ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False), ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True), ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True), ("abc/**", "abc", False), ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True), ("**/.foo", ".foo", True), ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True), ("a(b)c/def", "a(b)c/xyz", False), ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
]

# TestMatches' multi-pattern table.
UPSTREAM_MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    # The small named tests around it.
    (["*"], "fileutils.go", True),
    (["*.go"], "fileutils.go", True),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    ([], "any/path/there", False),
]

# The filepath.Match table patternmatcher borrowed: (pattern, path, excluded, bad pattern).
UPSTREAM_FILEPATH = [
    ("abc", "abc", True, False), ("*", "abc", True, False), ("*c", "abc", True, False), ("a*", "a", True, False),
    ("a*", "abc", True, False), ("a*", "ab/c", True, False), ("a*/b", "abc/b", True, False),
    ("a*/b", "a/c/b", False, False), ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False), ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False), ("a*b?c*x", "abxbbxdbxebxczzx", True, False),
    ("a*b?c*x", "abxbbxdbxebxczzy", False, False), ("ab[c]", "abc", True, False), ("ab[b-d]", "abc", True, False),
    ("ab[e-g]", "abc", False, False), ("ab[^c]", "abc", False, False), ("ab[^b-d]", "abc", False, False),
    ("ab[^e-g]", "abc", True, False), ("a\\*b", "a*b", True, False), ("a\\*b", "ab", False, False),
    ("a?b", "a\u263ab", True, False), ("a[^a]b", "a\u263ab", True, False), ("a???b", "a\u263ab", False, False),
    ("a[^a][^a][^a]b", "a\u263ab", False, False), ("[a-\u03b6]*", "\u03b1", True, False),
    ("*[a-\u03b6]", "A", False, False), ("a?b", "a/b", False, False), ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False), ("[\\-]", "-", True, False), ("[x\\-]", "x", True, False),
    ("[x\\-]", "-", True, False), ("[x\\-]", "z", False, False), ("[\\-x]", "x", True, False),
    ("[\\-x]", "-", True, False), ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True), ("[-]", "-", False, True), ("[x-]", "x", False, True), ("[x-]", "-", False, True),
    ("[x-]", "z", False, True), ("[-x]", "x", False, True), ("[-x]", "-", False, True), ("[-x]", "a", False, True),
    ("\\", "a", False, True), ("[a-b-c]", "a", False, True), ("[", "a", False, True), ("[^", "a", False, True),
    ("[^bc", "a", False, True), ("a[", "a", False, True), ("a[", "ab", False, True), ("*x", "xxx", True, False),
]

# TestCompile: which shortcut patternmatcher takes for a pattern.
UPSTREAM_KINDS = [
    ("*", "regexp"), ("file*", "regexp"), ("*file", "regexp"), ("a*/b", "regexp"), ("**", "suffix"),
    ("**/**", "regexp"), ("dir/**", "prefix"), ("**/dir", "suffix"), ("**/dir2/*", "regexp"),
    ("**/dir2/**", "regexp"), ("**file", "suffix"), ("**/file*txt", "regexp"), ("**/**/*.txt", "regexp"),
    ("a[b-d]e", "regexp"), (".*", "regexp"), ("abc.def", "exact"), ("abc?def", "regexp"), ("**/foo/bar", "suffix"),
    ("a(b)c/def", "exact"), ("a.|)$(}+{bc", "exact"), ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact"),
]


@pytest.mark.parametrize("pattern, path, excluded", UPSTREAM_MATCHES)
def test_upstream_single_patterns(pattern, path, excluded):
    assert DockerIgnore([pattern]).excludes(path) is excluded


@pytest.mark.parametrize("patterns, path, excluded", UPSTREAM_MULTI)
def test_upstream_pattern_lists(patterns, path, excluded):
    assert DockerIgnore(patterns).excludes(path) is excluded


@pytest.mark.parametrize("pattern, path, excluded, bad", UPSTREAM_FILEPATH)
def test_upstream_filepath_match_table(pattern, path, excluded, bad):
    if bad:
        with pytest.raises(InvalidInput, match="invalid .dockerignore pattern"):
            DockerIgnore([pattern])
    else:
        assert DockerIgnore([pattern]).excludes(path) is excluded


@pytest.mark.parametrize("pattern, kind", UPSTREAM_KINDS)
def test_upstream_match_kinds(pattern, kind):
    assert IgnorePattern.parse(go_clean(pattern)).kind == kind


@pytest.mark.parametrize("patterns", [["!"], ["docs", "  !  "], ["!/"]])
def test_a_lone_exception_mark_is_refused(patterns):
    with pytest.raises(InvalidInput, match="an exception needs a path"):
        DockerIgnore(patterns)


def test_upstream_malformed_pattern_that_passes_filepath_match_is_refused():
    # patternmatcher lets "[Local-Only]/" through New(), then its regexp fails: Docker stops the build.
    with pytest.raises(InvalidInput, match="out of order"):
        DockerIgnore(["[Local-Only]/"])


# -- upstream: ignorefile_test.go ----------------------------------------------------

def test_upstream_read_all():
    content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    assert read_patterns(split_lines(content.encode())) == [
        "test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!"]


# -- reading a .dockerignore ---------------------------------------------------------------

@pytest.mark.parametrize("data, patterns", [
    (b"\xef\xbb\xbf**/secrets\n", ["**/secrets"]),                  # a UTF-8 BOM is not part of the pattern
    (b"\xef\xbb\xbf# comment\nx\n", ["x"]),                          # ... nor does it hide a comment
    (b"a\r\nb\r\n", ["a", "b"]),                                    # CRLF files
    (b"a\x0cb\x1cc\n", ["a\x0cb\x1cc"]),                            # only "\n" ends a line
    (b"\x1ca\x1c\n", ["\x1ca\x1c"]),                                # Go's TrimSpace keeps \x1c..\x1f
    ("\u00a0a\u2003\n".encode(), ["a"]),                             # and strips Unicode spaces
    (b"\t a \t\n", ["a"]),
    (b" # not a comment\n", ["# not a comment"]),                    # "#" only counts in the first column
    (b"#comment\n\n   \n", []),
    (b"./a/../b/\n", ["b"]),                                        # filepath.Clean
    (b"//a//b\n", ["a/b"]),                                         # rooted, cleaned, one "/" dropped
    (b"/../a\n", ["a"]),                                            # ".." stops at the root
    (b"../a\n", ["../a"]),
    (b"/\n", ["/"]),
    (b"!  /x/./y\n", ["!x/y"]),
    (b"\xff\n", ["\udcff"]),                                        # bytes that are not UTF-8 stay bytes
])
def test_reading_the_file(data, patterns):
    assert read_patterns(split_lines(data)) == patterns


def test_a_bom_only_counts_at_the_start():
    assert read_patterns(split_lines(b"a\n\xef\xbb\xbfb\n")) == ["a", "\ufeffb"]


def test_a_line_docker_cannot_read_is_refused():
    with pytest.raises(InvalidInput, match="longer than 65535 bytes"):
        split_lines(b"a" * 70000 + b"\n")
    assert split_lines(b"a" * 65535) == ["a" * 65535]


@pytest.mark.parametrize("lines, path, excluded", [
    # patternmatcher.New trims and cleans again what ReadAll left: "/ x" is "x", and "/ !x" an exception.
    (["/ x"], "x", True),
    (["*", "/ !x"], "x", False),
    (["\ufeffa"], "a", True),
])
def test_second_trim_and_clean(lines, path, excluded):
    assert DockerIgnore(lines).excludes(path) is excluded


# -- matching ------------------------------------------------------------------------------

@pytest.mark.parametrize("patterns, path, excluded", [
    # issue 13: every parent directory counts, also when there are exceptions.
    (["**/secrets", "!README.md"], "secrets/id_rsa", True),
    (["**/secrets", "!README.md"], "app/config/secrets/token", True),
    (["**/secrets", "!README.md"], "app/config/secrets/deep/er/token", True),
    (["**/secrets", "!README.md"], "README.md", False),
    (["**/secrets", "!README.md"], "app/config/settings", False),
    (["a/b", "!x"], "a/b/c/d/e", True),
    (["*/b"], "a/b/c/d", True),
    # "*" and "?" never cross "/"; "**" does.
    (["*"], "a/b", True),                   # through the parent "a"
    (["*/c"], "a/b/c", False),
    (["a/?"], "a/b/c", True),
    (["a/?/c"], "a/bb/c", False),
    (["a/**/c"], "a/c", True),
    (["a/**/c"], "a/b/b/c", True),
    (["a/**/c"], "a/b/b/cc", False),
    # Classes and escapes.
    (["[a-c]x"], "bx", True),
    (["[a-c]x"], "dx", False),
    (["[^x]y"], "zy", True),
    (["[^x]y"], "xy", False),
    (["[!x]y"], "!y", True),                # "!" does not negate, as in Go
    (["a[/]b"], "a/b", True),               # a class may hold "/", as in Go's regexp
    (["\\[a\\]"], "[a]", True),
    (["a\\\\b"], "a\\b", True),
    (["a]b"], "a]b", True),
    # The shortcuts patternmatcher takes, which a regexp would not: "**" then text is a plain suffix...
    (["**.log"], "build/x.log", True),
    (["**.log"], "x.log", True),
    (["**foo"], "barfoo", True),
    # ... "**" at the end a plain prefix.
    (["foo**"], "foobar/x", True),
    # In a regexp, "**" is Go's ".*", which does not match a newline; "*" does.
    (["a/**/b"], "a/x\ny/b", False),
    (["a/*/b"], "a/x\ny/b", True),
    # A bare "^" is Go's start-of-text anchor in a regexp pattern, a character in an exact one.
    (["a^b*"], "a^bc", False),
    (["^a*"], "abc", True),
    (["a^b"], "a^b", True),
    # The last pattern that applies wins.
    (["*.md", "!README.md", "README.md"], "README.md", True),
    (["docs", "!docs/keep", "docs/keep/x"], "docs/keep/x", True),
    (["docs", "!docs/keep", "docs/keep/x"], "docs/keep/y", False),
    # Like the docker CLI's archive and BuildKit: an exception on a parent is only inherited when it
    # was evaluated there, so "!b" after "b/c" does not bring "b/c" back.
    (["b/c", "!b"], "b/c", True),
    (["b", "!b/c"], "b/c", False),
])
def test_matching(patterns, path, excluded):
    assert DockerIgnore(patterns).excludes(path) is excluded


def test_answers_do_not_depend_on_the_order_of_questions():
    patterns = ["**/secrets", "!**/secrets/public", "build", "!build/keep/**", "*.tmp"]
    paths = ["a/secrets/x", "a/secrets/public/y", "build/keep/z", "build/other", "x.tmp", "src/x.tmp", "secrets"]
    fresh = [DockerIgnore(patterns).excludes(path) for path in paths]
    shared = DockerIgnore(patterns)
    assert [shared.excludes(path) for path in reversed(paths)] == list(reversed(fresh))
    assert fresh == [True, False, False, True, True, False, True]


@pytest.mark.parametrize("pattern, path, excluded", [
    ("**/" * 12 + "x", "/".join(["d"] * 24), False),
    ("**/" * 12 + "x", "/".join(["d"] * 23 + ["x"]), True),
    ("**/" * 12 + "x", "/".join(["d"] * 12 + ["x"] + ["d"] * 11), True),
    ("*a" * 20 + "b", "a" * 200, False),
    ("a/" + "*a" * 20 + "*/c", "a/" + "a" * 200 + "/c", True),
    ("**/" * 30 + "[a-z]?" * 10 + "!", "/".join(["ab"] * 100), False),
])
def test_pathological_patterns_match_in_linear_time(pattern, path, excluded):
    # A backtracking regexp took 77 s on the first case; the DFA takes microseconds.
    started = time.perf_counter()
    ignore = DockerIgnore([pattern])
    assert ignore.excludes(path) is excluded
    assert time.perf_counter() - started < 2


def test_the_dfa_stays_bounded(monkeypatch):
    monkeypatch.setattr(_dockerignore, "_MAX_DFA_STATES", 8)
    ignore = DockerIgnore(["**/a*b*c*d"])
    for length in range(1, 40):
        assert ignore.excludes("x/" + "abcd"[: length % 4 + 1] * length) is (length % 4 == 3)
    assert len(ignore.patterns[0]._states) <= 8 + 40


@pytest.mark.parametrize("patterns, directory, reinclude", [
    (["**/secrets", "!README.md"], "secrets", False),
    (["**/secrets", "!README.md"], "app/secrets", False),
    (["docs", "!docs/keep.md"], "docs", True),
    (["docs", "!docs/keep.md"], "docsx", False),
    (["docs", "!docs"], "docs", False),
    (["docs", "!**/keep.md"], "docs", True),
    (["docs", "!*.md"], "docs", False),        # "*" cannot go below the top level
    (["docs", "!*/*.md"], "docs", True),
    (["docs", "!*/*.md"], "docs/sub", False),
    (["a", "!a/b/**"], "a", True),
    (["a", "!a/b**"], "a", True),
    (["a", "!x/**"], "a", False),
    (["a", "![ab]/c"], "a", True),
    (["a", "![^a]/c"], "a", False),
    (["a"], "a", False),
])
def test_which_left_out_directories_must_be_walked(patterns, directory, reinclude):
    assert DockerIgnore(patterns).may_reinclude_under(directory) is reinclude


# -- the file itself -------------------------------------------------------------------------

def make_root(tmp_path, files):
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    for path, content in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return str(tmp_path)


def test_no_dockerignore_means_no_patterns(tmp_path):
    assert DockerIgnore.from_directory(make_root(tmp_path, {})).patterns == []


def test_a_bom_prefixed_file_from_disk(tmp_path):
    root = make_root(tmp_path, {".dockerignore": b"\xef\xbb\xbf**/secrets\r\n!README.md\r\n"})
    ignore = DockerIgnore.from_directory(root)
    assert [(pattern.text, pattern.exclusion) for pattern in ignore.patterns] == [("**/secrets", False), ("README.md", True)]


def test_a_fifo_does_not_hang(tmp_path):
    root = make_root(tmp_path, {})
    os.mkfifo(os.path.join(root, ".dockerignore"))
    with pytest.raises(InvalidInput, match=r"\.dockerignore is not a regular file"):
        DockerIgnore.from_directory(root)


def test_a_symlink_to_a_device_is_refused_without_reading_it(tmp_path):
    root = make_root(tmp_path, {})
    os.symlink("/dev/zero", os.path.join(root, ".dockerignore"))
    with pytest.raises(InvalidInput, match=r"\.dockerignore is a symbolic link"):
        DockerIgnore.from_directory(root)


def test_an_oversized_file_is_refused(tmp_path):
    root = make_root(tmp_path, {".dockerignore": b"#" * (DOCKERIGNORE_MAX_SIZE + 1)})
    with pytest.raises(InvalidInput, match=r"\.dockerignore is larger than the limit of 1048576 bytes"):
        DockerIgnore.from_directory(root)


def test_a_file_at_the_limit_is_read(tmp_path):
    comments = (b"#" * 1023 + b"\n") * 1023
    root = make_root(tmp_path, {".dockerignore": b"x\n" + comments + b"#" * (DOCKERIGNORE_MAX_SIZE - 2 - len(comments))})
    assert [pattern.text for pattern in DockerIgnore.from_directory(root).patterns] == ["x"]


def test_a_dockerignore_directory_is_refused(tmp_path):
    root = make_root(tmp_path, {".dockerignore/x": b""})
    with pytest.raises(InvalidInput, match="not a regular file"):
        DockerIgnore.from_directory(root)


def test_dockerfile_text_refuses_a_fifo_and_a_huge_file(tmp_path):
    root = make_root(tmp_path, {})
    context = BuildContext(root)
    assert context.dockerfile_text() == "FROM busybox\n"
    os.remove(os.path.join(root, "Dockerfile"))
    os.mkfifo(os.path.join(root, "Dockerfile"))
    with pytest.raises(InvalidInput, match="the Dockerfile .* is not a regular file"):
        context.dockerfile_text()
    os.remove(os.path.join(root, "Dockerfile"))
    with open(os.path.join(root, "Dockerfile"), "wb") as handle:
        handle.truncate(64 * 1024 * 1024)   # sparse
    with pytest.raises(InvalidInput, match="the Dockerfile .* is larger than the limit"):
        context.dockerfile_text()
    os.remove(os.path.join(root, "Dockerfile"))
    os.symlink("/dev/zero", os.path.join(root, "Dockerfile"))
    with pytest.raises(InvalidInput, match="the Dockerfile .* is not a regular file"):
        context.dockerfile_text()
