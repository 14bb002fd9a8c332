#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fail when any file holds a secret of secrets.json, in clear or encoded.

    find_leaks.py SECRETS_JSON FILE [FILE...]

Searched for, per secret (password, wrong password, identity token, registry token):
  * the secret itself;
  * base64 and base64url (padded or not) of "user:secret" (HTTP Basic, config.json "auth");
  * base64 and base64url (padded or not) of every AuthConfig JSON an X-Registry-Auth or
    X-Registry-Config header could carry: the secret under its key, with and without username and
    serveraddress (bare, http://, https://), keys sorted or not, compact or spaced separators, and
    X-Registry-Config's {registry: AuthConfig} wrapping;
  * and, since an encoder can order keys any way, every base64/base64url-looking run of text is
    decoded (from several offsets) and searched for the secrets.
Matches are reported by file, line and kind; a secret is never printed. Exit status 1 on a leak.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import sys

SECRET_KEYS = {
    "leak_password": "password",
    "leak_wrong_password": "password",
    "leak_identitytoken": "identitytoken",
    "leak_registrytoken": "registrytoken",
}
TOKEN_RE = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")


def encodings(raw: str) -> set[str]:
    out = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw.encode("utf-8")).decode("ascii")
        out.update((text, text.rstrip("=")))
    return out


def auth_objects(user: str, registry: str, key: str, secret: str) -> list[dict]:
    objects = []
    for server in (None, registry, "http://" + registry, "https://" + registry):
        for with_user in (True, False):
            fields = {key: secret}
            if with_user:
                fields["username"] = user
            if server:
                fields["serveraddress"] = server
            for order in itertools.permutations(fields):
                objects.append({name: fields[name] for name in order})
            if server:
                objects.append({server: dict(sorted(fields.items()))})
    return objects


def needles(config: dict) -> dict[str, str]:
    user, registry = config["moby_registry_user"], config["moby_registry"]
    found: dict[str, str] = {}
    for name, key in SECRET_KEYS.items():
        secret = config[name]
        found[secret] = name
        for text in encodings("{0}:{1}".format(user, secret)):
            found[text] = "base64 of user:" + name
        for obj in auth_objects(user, registry, key, secret):
            for separators in ((",", ":"), (", ", ": ")):
                for text in encodings(json.dumps(obj, separators=separators)):
                    found[text] = "encoded registry auth header holding " + name
    return found


def decoded_hit(line: str, secrets: dict[str, str]) -> str | None:
    for token in TOKEN_RE.findall(line):
        stripped = token.rstrip("=")
        for start in range(4):
            part = stripped[start:]
            padded = part + "=" * (-len(part) % 4)
            for variant in (padded.replace("-", "+").replace("_", "/"),):
                try:
                    data = base64.b64decode(variant)
                except (binascii.Error, ValueError):
                    continue
                for secret, name in secrets.items():
                    if secret.encode("utf-8") in data:
                        return name
    return None


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    secrets = {config[name]: name for name in SECRET_KEYS}
    if any(len(secret) < 12 for secret in secrets):
        sys.exit("find_leaks: refusing secrets shorter than 12 characters (too many false matches)")
    wanted = needles(config)
    leaks = 0
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                kinds = {kind for needle, kind in wanted.items() if needle in line}
                hit = None if kinds else decoded_hit(line, secrets)
                if hit:
                    kinds = {"base64 text that decodes to something holding " + hit}
                for kind in sorted(kinds):
                    print("LEAK {0}:{1}: {2}".format(path, number, kind))
                    leaks += 1
    print("find_leaks: {0} leak(s) in {1} file(s), {2} needles per line".format(
        leaks, len(sys.argv) - 2, len(wanted)))
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
