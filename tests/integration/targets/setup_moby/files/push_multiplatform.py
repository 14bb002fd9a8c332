# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put a multi-platform image (an OCI index of a linux/amd64 and a linux/arm64/v8 manifest) into the test registry.

    push_multiplatform.py ROOTFS REGISTRY REPOSITORY TAG REVISION DOCKER_CONFIG_DIR

Nothing here can reach Docker Hub, and nothing has to run the foreign platform: both manifests carry the same
layer (the local busybox rootfs, packed reproducibly) under configs that differ by architecture, so the image
exists for arm64 in name only. The registry credentials are read from DOCKER_CONFIG_DIR/config.json (where the
harness logged the docker CLI in), never from the command line. Prints, as JSON, the index digest and the
manifest and config digests per platform. Reruns upload nothing new and print the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
PLATFORMS = ({"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "arm64", "variant": "v8"})
CREATED = "2026-01-01T00:00:00Z"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def packed_rootfs(rootfs: str) -> bytes:
    """The rootfs as a tar whose bytes depend on the files alone (sorted, owned by root, mtime 0)."""
    paths = []
    for directory, subdirectories, files in os.walk(rootfs):
        paths.extend(os.path.join(directory, name) for name in subdirectories + files)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(paths, key=lambda item: os.path.relpath(item, rootfs)):
            info = archive.gettarinfo(path, os.path.relpath(path, rootfs))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if info.isreg():
                with open(path, "rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return buffer.getvalue()


class Registry:
    def __init__(self, address: str, repository: str, config_dir: str) -> None:
        self.base = "http://{0}/v2/{1}".format(address, repository)
        with open(os.path.join(config_dir, "config.json")) as handle:
            auth = json.load(handle)["auths"][address]["auth"]
        self.authorization = "Basic " + auth

    def call(self, method: str, url: str, body: bytes | None = None, content_type: str | None = None):
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Authorization", self.authorization)
        if content_type:
            request.add_header("Content-Type", content_type)
        return urllib.request.urlopen(request, timeout=30)

    def has_blob(self, digest: str) -> bool:
        try:
            self.call("HEAD", "{0}/blobs/{1}".format(self.base, digest))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def put_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        if not self.has_blob(digest):
            location = self.call("POST", self.base + "/blobs/uploads/", b"").headers["Location"]
            if location.startswith("/"):
                location = self.base.split("/v2/", 1)[0] + location
            separator = "&" if "?" in location else "?"
            self.call("PUT", "{0}{1}digest={2}".format(location, separator, digest), data,
                      "application/octet-stream")
        return digest

    def put_manifest(self, reference: str, media_type: str, document: dict) -> tuple:
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        self.call("PUT", "{0}/manifests/{1}".format(self.base, reference), data, media_type)
        return digest_of(data), len(data)


def main() -> None:
    rootfs, address, repository, tag, revision, config_dir = sys.argv[1:7]
    registry = Registry(address, repository, config_dir)
    tar = packed_rootfs(rootfs)
    layer = gzip.compress(tar, mtime=0)
    layer_digest = registry.put_blob(layer)
    entries, result = [], {"manifests": {}, "configs": {}}
    for platform in PLATFORMS:
        config = dict(platform, created=CREATED, rootfs={"type": "layers", "diff_ids": [digest_of(tar)]},
                      config={"Cmd": ["sh"], "Labels": {"moby.test.revision": revision}},
                      history=[{"created": CREATED, "created_by": "moby.engine test fixture"}])
        config_data = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": registry.put_blob(config_data),
                               "size": len(config_data)},
                    "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}]}
        digest, size = registry.put_manifest(digest_of(json.dumps(manifest, sort_keys=True, separators=(",", ":"))
                                                       .encode()), OCI_MANIFEST, manifest)
        name = "/".join(platform[key] for key in ("os", "architecture", "variant") if key in platform)
        result["manifests"][name] = digest
        result["configs"][name] = digest_of(config_data)
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": platform})
    result["index"], _size = registry.put_manifest(tag, OCI_INDEX, {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                                    "manifests": entries})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
