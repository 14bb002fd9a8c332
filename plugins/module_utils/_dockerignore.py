# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``.dockerignore`` with the rules the docker CLI and BuildKit apply, matched in linear time.

Reading follows moby/patternmatcher's ``ignorefile.ReadAll`` (BOM, ``#`` comments, trimming,
``filepath.Clean``, one leading ``/`` dropped), then its ``New`` (trimmed and cleaned again, ``!``
exceptions, syntax checked as Go's ``filepath.Match`` does).  Each pattern is matched the way
patternmatcher does it, including its shortcuts: a pattern without wildcards is an exact match, one
ending in ``**`` a plain prefix and one starting with ``**`` a plain suffix.  Other patterns become
the same language as patternmatcher's Go regexp, but run as a lazily built DFA, so no pattern can
make matching take more than (pattern length x path length) steps.

Which paths a list of patterns leaves out follows ``MatchesUsingParentResults``, which both the
classic docker CLI archive and BuildKit's fsutil walk use: a pattern that matched a directory also
matches everything under it; the other patterns are tried on the path itself, in order, each only
when it could change the answer.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput

DOCKERIGNORE = ".dockerignore"
DOCKERIGNORE_MAX_SIZE = 1024 * 1024
# bufio.Scanner's default token limit: the docker CLI fails on a longer .dockerignore line.
_MAX_LINE_BYTES = 64 * 1024 - 1
_BOM = b"\xef\xbb\xbf"
# unicode.IsSpace, which Go's strings.TrimSpace uses; str.strip() would also drop \x1c-\x1f.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
# Characters patternmatcher escapes before building its regexp: they stay literal without "\\".
_QUOTED = set(".+()|{}$")

_EXACT, _PREFIX, _SUFFIX, _REGEXP = "exact", "prefix", "suffix", "regexp"

# Token kinds of a regexp-type pattern.
_LIT = 0        # one given character
_ANY = 1        # "?": one character but "/"
_CLASS = 2      # "[...]"
_STAR = 3       # "*": any run of characters without "/"
_DSTAR = 4      # "**" inside a pattern: "(.*/)?", nothing or anything up to a "/"
_DSTAR_END = 5  # "**" ending a pattern: ".*"
_CARET = 6      # a bare "^": Go reads it as "start of text", so it only passes at the start

_MAX_DFA_STATES = 4096


def read_small_file(path: str, limit: int, what: str, follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Opened without blocking so a FIFO cannot hang the task, and checked after opening, so a device
    (a symlink to /dev/zero, say) or an oversized file is refused instead of read until memory runs out.
    Raises FileNotFoundError when there is no such file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise InvalidInput("{0} {1} is a symbolic link; it must be a regular file".format(what, path))
        raise InvalidInput("cannot read {0} {1}: {2}".format(what, path, exc.strerror or exc))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput("{0} {1} is not a regular file".format(what, path))
        if info.st_size > limit:
            raise InvalidInput("{0} {1} is larger than the limit of {2} bytes".format(what, path, limit))
        chunks: List[bytes] = []
        total = 0
        while True:
            # One byte past the limit tells a file that grew after fstat from one that did not.
            chunk = os.read(descriptor, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InvalidInput("{0} {1} is larger than the limit of {2} bytes".format(what, path, limit))
        return b"".join(chunks)
    except OSError as exc:
        raise InvalidInput("cannot read {0} {1}: {2}".format(what, path, exc.strerror or exc))
    finally:
        os.close(descriptor)


def go_clean(path: str) -> str:
    """Go's filepath.Clean for slash paths."""
    rooted = path.startswith("/")
    parts: List[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append(part)
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_patterns(lines: Sequence[str]) -> List[str]:
    """The patterns of the lines of a .dockerignore, as ignorefile.ReadAll returns them."""
    patterns: List[str] = []
    for number, line in enumerate(lines):
        if number == 0 and line.startswith("\ufeff"):
            line = line[1:]
        # A comment only when "#" is the very first character: " #x" is the pattern "#x".
        if line.startswith("#"):
            continue
        pattern = line.strip(_GO_SPACE)
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip(_GO_SPACE)
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def split_lines(data: bytes, name: str = DOCKERIGNORE) -> List[str]:
    """The lines of a file as Go's bufio.ScanLines cuts them: at "\\n" only, one trailing "\\r" dropped."""
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    result: List[str] = []
    for line in lines:
        if len(line) > _MAX_LINE_BYTES:
            raise InvalidInput("{0} has a line longer than {1} bytes, which Docker refuses too".format(name, _MAX_LINE_BYTES))
        if line.endswith(b"\r"):
            line = line[:-1]
        result.append(line.decode("utf-8", "surrogateescape"))
    return result


# -- one pattern ------------------------------------------------------------------

Token = Tuple[int, object]


def _class_end(pattern: str, start: int, original: str) -> Tuple[int, Tuple[bool, Tuple[Tuple[str, str], ...]]]:
    """Parse "[...]" at ``start`` as filepath.Match does; the index after it and (negated, ranges)."""
    def bad(reason: str) -> InvalidInput:
        return InvalidInput("invalid .dockerignore pattern {0!r}: {1}".format(original, reason))

    def endpoint(index: int) -> Tuple[str, int]:
        if index >= len(pattern) or pattern[index] in "-]":
            raise bad("character class without a closing ']'" if index >= len(pattern) else "bad character class")
        if pattern[index] == "\\":
            index += 1
            if index >= len(pattern):
                raise bad("character class without a closing ']'")
        if index + 1 >= len(pattern):
            raise bad("character class without a closing ']'")
        return pattern[index], index + 1

    index = start + 1
    negated = index < len(pattern) and pattern[index] == "^"
    if negated:
        index += 1
    ranges: List[Tuple[str, str]] = []
    while True:
        if index < len(pattern) and pattern[index] == "]" and ranges:
            index += 1
            break
        low, index = endpoint(index)
        high = low
        if pattern[index] == "-":
            high, index = endpoint(index + 1)
        if low > high:
            # filepath.Match accepts it, but patternmatcher's regexp then fails: Docker stops the build.
            raise bad("character class range {0}-{1} is out of order".format(low, high))
        ranges.append((low, high))
    return index, (negated, tuple(ranges))


def _tokens(pattern: str) -> Tuple[str, List[Token]]:
    """Tokens of a cleaned pattern and the match type patternmatcher picks for it."""
    kind = _EXACT
    tokens: List[Token] = []
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        first = index == 0
        index += 1
        if char == "*":
            index, kind, token = _star(pattern, index, kind, first)
            tokens.append(token)
        elif char == "?":
            kind = _REGEXP
            tokens.append((_ANY, None))
        elif char in _QUOTED:
            tokens.append((_LIT, char))
        elif char == "\\":
            if index < length:
                kind = _REGEXP
                tokens.append((_LIT, pattern[index]))
                index += 1
            else:
                tokens.append((_LIT, "\\"))
        elif char == "[":
            kind = _REGEXP
            index, spec = _class_end(pattern, index - 1, pattern)
            tokens.append((_CLASS, spec))
        elif char == "]":
            kind = _REGEXP
            tokens.append((_LIT, char))
        elif char == "^":
            tokens.append((_CARET, None))
        else:
            tokens.append((_LIT, char))
    return kind, tokens


def _star(pattern: str, index: int, kind: str, first: bool) -> Tuple[int, str, Token]:
    """(index after, match type, token) for a ``*`` just read at ``index - 1``: ``*``, ``**`` or ``**/``."""
    length = len(pattern)
    if index >= length or pattern[index] != "*":
        return index, _REGEXP, (_STAR, None)
    index += 1
    if index < length and pattern[index] == "/":
        index += 1
    if index == length:
        kind, token = (_PREFIX if kind == _EXACT else _REGEXP), (_DSTAR_END, None)
    else:
        kind, token = _REGEXP, (_DSTAR, None)
    return index, (_SUFFIX if first else kind), token


def _in_class(spec: Tuple[bool, Tuple[Tuple[str, str], ...]], char: str) -> bool:
    negated, ranges = spec
    return any(low <= char <= high for low, high in ranges) != negated


@dataclass
class IgnorePattern:
    """One cleaned pattern of a .dockerignore and how to match it."""

    text: str
    exclusion: bool
    kind: str
    tokens: List[Token] = field(repr=False)
    _states: List[FrozenSet[int]] = field(default_factory=list, repr=False)
    _ids: Dict[FrozenSet[int], int] = field(default_factory=dict, repr=False)
    _moves: List[Dict[str, int]] = field(default_factory=list, repr=False)

    @classmethod
    def parse(cls, pattern: str) -> "IgnorePattern":
        """A pattern as patternmatcher.New takes it (already read by read_patterns)."""
        pattern = pattern.strip(_GO_SPACE)
        pattern = go_clean(pattern)
        exclusion = pattern.startswith("!")
        if exclusion:
            if len(pattern) == 1:
                raise InvalidInput('invalid .dockerignore pattern "!": an exception needs a path')
            pattern = pattern[1:]
        if _odd_trailing_backslash(pattern):
            raise InvalidInput("invalid .dockerignore pattern {0!r}: it ends in an unfinished '\\' escape".format(pattern))
        kind, tokens = _tokens(pattern)
        return cls(pattern, exclusion, kind, tokens)

    # -- the DFA, built as paths need it ------------------------------------------

    @property
    def _loop_offset(self) -> int:
        """Node ``i + _loop_offset`` is the inside of the "(.*/)?" of token ``i``."""
        return len(self.tokens) + 1

    def _closure(self, nodes: Sequence[int], at_start: bool) -> FrozenSet[int]:
        found = set()
        stack = list(nodes)
        end = len(self.tokens)
        while stack:
            node = stack.pop()
            if node in found:
                continue
            if node < end:
                token_kind = self.tokens[node][0]
                if token_kind == _CARET:
                    # A dead end except at the start: not kept, so an empty set really means "no match".
                    if at_start:
                        stack.append(node + 1)
                    continue
                if token_kind == _DSTAR:
                    # "(.*/)?" skips as a whole or loops until a "/": once in, no way out but a "/".
                    stack.append(node + 1)
                    found.add(node + self._loop_offset)
                    continue
                if token_kind in (_STAR, _DSTAR_END):
                    stack.append(node + 1)
            found.add(node)
        return frozenset(found)

    def _state(self, nodes: FrozenSet[int]) -> int:
        known = self._ids.get(nodes)
        if known is None:
            known = len(self._states)
            self._states.append(nodes)
            self._ids[nodes] = known
            self._moves.append({})
        return known

    def _reset(self) -> int:
        self._states, self._ids, self._moves = [], {}, []
        self._state(frozenset())
        return self._state(self._closure([0], at_start=True))

    def _step(self, state: int, char: str) -> int:
        following = self._moves[state].get(char)
        if following is not None:
            return following
        targets = []
        for node in self._states[state]:
            if node >= self._loop_offset:
                # Go's "." never matches a newline; "(.*/)?" leaves its loop on a "/".
                if char != "\n":
                    targets.append(node)
                if char == "/":
                    targets.append(node - self._loop_offset + 1)
                continue
            if node == len(self.tokens):
                continue
            token_kind, value = self.tokens[node]
            if token_kind == _LIT:
                if char == value:
                    targets.append(node + 1)
            elif token_kind == _ANY:
                if char != "/":
                    targets.append(node + 1)
            elif token_kind == _CLASS:
                if _in_class(value, char):  # type: ignore[arg-type]
                    targets.append(node + 1)
            elif token_kind == _STAR:
                if char != "/":
                    targets.append(node)
            elif token_kind == _DSTAR_END:
                if char != "\n":
                    targets.append(node)
        following = self._state(self._closure(targets, at_start=False))
        self._moves[state][char] = following
        return following

    def _run(self, path: str) -> FrozenSet[int]:
        """The NFA states after reading ``path``: empty when no continuation can match."""
        if not self._states or len(self._states) > _MAX_DFA_STATES:
            self._reset()
        state = 1
        for char in path:
            state = self._step(state, char)
            if state == 0:
                break
        return self._states[state]

    # -- the questions asked ----------------------------------------------------------

    def matches(self, path: str) -> bool:
        """Whether this pattern matches the context-relative slash path itself (not its parents)."""
        if self.kind == _EXACT:
            return path == self.text
        if self.kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return len(self.tokens) in self._run(path)

    def may_match_under(self, directory: str) -> bool:
        """Whether this pattern can match some path strictly inside ``directory``."""
        inside = directory + "/"
        if self.kind == _EXACT:
            return self.text.startswith(inside)
        if self.kind == _PREFIX:
            prefix = self.text[:-2]
            return prefix.startswith(inside) or inside.startswith(prefix)
        if self.kind == _SUFFIX:
            return True
        return bool(self._run(inside))


def _odd_trailing_backslash(pattern: str) -> bool:
    """Whether the pattern ends in a "\\" that escapes nothing (filepath.Match calls that bad)."""
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\":
            if index + 1 == len(pattern):
                return True
            index += 2
        else:
            index += 1
    return False


# -- a whole .dockerignore ---------------------------------------------------------------


class DockerIgnore:
    """The patterns of a .dockerignore, and which context paths they leave out."""

    def __init__(self, lines: Optional[Sequence[str]] = None) -> None:
        self.patterns: List[IgnorePattern] = [
            IgnorePattern.parse(text) for text in read_patterns(lines or []) if text.strip(_GO_SPACE)]
        # What each pattern said of each directory already asked about; children inherit it.
        self._directories: Dict[str, Tuple[bool, ...]] = {}

    @classmethod
    def from_directory(cls, root: str) -> "DockerIgnore":
        path = os.path.join(root, DOCKERIGNORE)
        try:
            data = read_small_file(path, DOCKERIGNORE_MAX_SIZE, "the .dockerignore file", follow_symlinks=False)
        except FileNotFoundError:
            return cls()
        return cls(split_lines(data, path))

    @property
    def has_exceptions(self) -> bool:
        return any(pattern.exclusion for pattern in self.patterns)

    def _evaluate(self, path: str, parent: Optional[Tuple[bool, ...]]) -> Tuple[bool, Tuple[bool, ...]]:
        matched = False
        results: List[bool] = []
        for index, pattern in enumerate(self.patterns):
            match = bool(parent and parent[index])
            # An exception can only re-include what is left out so far, and the other way round.
            if not match and pattern.exclusion == matched:
                match = pattern.matches(path)
            results.append(match)
            if match:
                matched = not pattern.exclusion
        return matched, tuple(results)

    def _directory(self, directory: str) -> Tuple[bool, ...]:
        known = self._directories.get(directory)
        if known is not None:
            return known
        # Top-down from the highest directory not asked about yet: no recursion, however deep.
        missing = [directory]
        parent = directory.rpartition("/")[0]
        while parent and parent not in self._directories:
            missing.append(parent)
            parent = parent.rpartition("/")[0]
        results = self._directories.get(parent) if parent else None
        for path in reversed(missing):
            results = self._evaluate(path, results)[1]
            self._directories[path] = results
        return results  # type: ignore[return-value]

    def excludes(self, path: str) -> bool:
        """Whether the context-relative slash path ``path`` is left out of the context."""
        if not self.patterns:
            return False
        parent = path.rpartition("/")[0]
        return self._evaluate(path, self._directory(parent) if parent else None)[0]

    def may_reinclude_under(self, directory: str) -> bool:
        """Whether an exception could bring back something inside the left-out ``directory``.

        Once a directory is left out, a path below it is sent only if an exception matches that path
        itself: what matched the directory still matches below it.
        """
        return any(pattern.exclusion and pattern.may_match_under(directory) for pattern in self.patterns)
