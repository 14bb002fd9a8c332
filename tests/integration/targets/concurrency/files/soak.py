#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak: many separate module runs against one engine; no failure, no growth in its open connections.

    soak.py CONFIG_JSON

CONFIG_JSON holds: collections_root (the directory above ansible_collections), python, docker_host (a
unix:// socket on this host), invocations, workers, deadline_seconds, settle_seconds, allowed_fd_growth,
allowed_socket_growth, and the names used: image, tag_repo, registry_image, registry_auth.

Every invocation is its own Python process running one module through AnsibleModule (args file, JSON
result on stdout), as Ansible runs a module, so each opens and closes its own engine connections.
The mix cycles through image_info (inspect and list), image_tag, image_remove, image_pull with
pull=always (the engine asks the loopback registry each time) and image_push (the registry already
has the image, so only its digest is read). dockerd's open file descriptors (all, and sockets) are
counted in /proc/<pid>/fd after a warm-up and again after the run, once idle connections had
settle_seconds to close. Prints one JSON report; exit status 1 on any failure, growth or timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit


def listening_inodes(socket_path: str) -> set[str]:
    inodes = set()
    with open("/proc/net/unix", encoding="ascii", errors="replace") as handle:
        next(handle)
        for line in handle:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == socket_path:
                inodes.add(fields[6])
    return inodes


def engine_pid(socket_path: str) -> int:
    """The pid of the dockerd that listens on socket_path (another dockerd may run on this host)."""
    wanted = {"socket:[{0}]".format(inode) for inode in listening_inodes(socket_path)}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/{0}/comm".format(entry), encoding="ascii") as handle:
                if handle.read().strip() != "dockerd":
                    continue
            fds = os.listdir("/proc/{0}/fd".format(entry))
            if any(os.readlink("/proc/{0}/fd/{1}".format(entry, fd)) in wanted for fd in fds):
                return int(entry)
        except OSError:
            continue
    raise SystemExit("soak: no dockerd process listens on {0}".format(socket_path))


def open_fds(pid: int) -> dict[str, int]:
    counts = {"all": 0, "sockets": 0}
    for fd in os.listdir("/proc/{0}/fd".format(pid)):
        try:
            target = os.readlink("/proc/{0}/fd/{1}".format(pid, fd))
        except OSError:
            continue  # closed while we looked
        counts["all"] += 1
        counts["sockets"] += target.startswith("socket:")
    return counts


def invocation_plan(config: dict, count: int) -> list[tuple[str, dict]]:
    engine = {"docker_host": config["docker_host"]}
    auth = {"registry_auth": config["registry_auth"]}
    plan = []
    for number in range(count):
        slot = "{0}:{1}".format(config["tag_repo"], number % 7)
        step = number % 6
        if step == 0:
            plan.append(("image_info", dict(engine, name=[config["image"]])))
        elif step == 1:
            plan.append(("image_tag", dict(engine, name=config["image"], repository=[slot])))
        elif step == 2:
            plan.append(("image_info", dict(engine, filters={"reference": config["tag_repo"]})))
        elif step == 3:
            plan.append(("image_pull", dict(engine, name=[config["registry_image"]], pull="always", **auth)))
        elif step == 4:
            plan.append(("image_remove", dict(engine, name=[slot])))
        else:
            plan.append(("image_push", dict(engine, name=config["registry_image"], **auth)))
    return plan


def run_module(config: dict, workdir: str, number: int, module: str, args: dict) -> dict:
    path = os.path.join(workdir, "args-{0}.json".format(number))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=config["collections_root"])
    completed = subprocess.run(
        [config["python"], "-m", "ansible_collections.moby.engine.plugins.modules." + module, path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=config["deadline_seconds"], check=False)
    os.unlink(path)
    try:
        result = json.loads(completed.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"failed": True, "msg": "no JSON result; stderr: " + completed.stderr.decode("utf-8", "replace")[-400:]}
    ok = completed.returncode == 0 and not result.get("failed")
    return {"number": number, "module": module, "ok": ok, "changed": bool(result.get("changed")),
            "msg": None if ok else str(result.get("msg"))[:400]}


def run_all(config: dict, workdir: str, plan: list, start: int = 0) -> list[dict]:
    with ThreadPoolExecutor(max_workers=config["workers"]) as pool:
        futures = [pool.submit(run_module, config, workdir, start + index, module, args)
                   for index, (module, args) in enumerate(plan)]
        return [future.result() for future in futures]


def settled_fds(pid: int, ceiling: int, seconds: float) -> dict[str, int]:
    """fd counts once they are at most ``ceiling``, or the last count after ``seconds``."""
    deadline = time.monotonic() + seconds
    counts = open_fds(pid)
    while counts["all"] > ceiling and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = open_fds(pid)
    return counts


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    socket_path = urlsplit(config["docker_host"]).path
    pid = engine_pid(socket_path)
    with tempfile.TemporaryDirectory(prefix="moby-soak.") as workdir:
        # Warm-up: the engine opens its own long-lived sockets (registry connections, containerd) on
        # first use; the baseline is taken after that, and after those idle connections could close.
        warmup = run_all(config, workdir, invocation_plan(config, 12), start=-12)
        time.sleep(config["settle_seconds"])
        before = open_fds(pid)
        started = time.monotonic()
        results = run_all(config, workdir, invocation_plan(config, config["invocations"]))
        elapsed = time.monotonic() - started
        after = settled_fds(pid, before["all"], config["settle_seconds"])
    failures = [result for result in warmup + results if not result["ok"]]
    per_module: dict[str, int] = {}
    for result in results:
        per_module[result["module"]] = per_module.get(result["module"], 0) + 1
    report = {
        "invocations": len(results), "per_module": per_module, "failures": len(failures),
        "first_failures": failures[:5], "seconds": round(elapsed, 1),
        "per_invocation_ms": round(1000 * elapsed / max(len(results), 1)), "workers": config["workers"],
        "dockerd_pid": pid, "fds_before": before, "fds_after": after,
        "fd_growth": after["all"] - before["all"], "socket_growth": after["sockets"] - before["sockets"],
    }
    print(json.dumps(report))
    bad = (failures or report["fd_growth"] > config["allowed_fd_growth"]
           or report["socket_growth"] > config["allowed_socket_growth"] or elapsed > config["deadline_seconds"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
