#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""moby.engine benchmark (``make bench``): figures, never pass/fail thresholds.

Every section runs its playbooks through ansible-playbook against the real engine and registry
that ``make engine`` set up, and reports next to a reference measured in the same run
(ansible.builtin.ping, or the docker CLI). Results go to stdout and build/bench.json.

    python tests/bench/bench.py [SECTION ...]     (sections: info, pull, build, push_pull, export_load, fleet)

The info, push_pull and export_load sections set moby.engine beside community.docker (from the ``ansible``
package on PyPI, unpacked into build/bench/collections on first use) and the docker CLI. Every measurement
is taken ITERATIONS times (MOBY_BENCH_ITERATIONS, 3 by default) with the contenders taking turns at going
first; every run is kept in build/bench.json and the medians, with their ratios to the CLI, close the report:
the machine is shared, so a single figure says little.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from functools import partial
from pathlib import Path

import requests
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = ROOT / "build"
BENCH_DIR = BUILD / "bench"
MIB = 1024 * 1024
# The machine is shared with other developers, so every figure is measured this many times.
REPEATS = 2
ITERATIONS = int(os.environ.get("MOBY_BENCH_ITERATIONS", "3"))
# community.docker, the reference collection, as the ansible package of the venv's ansible-core (2.19) ships it.
COMMUNITY_PACKAGE = "ansible==12.3.0"
COMMUNITY_PATH = BENCH_DIR / "collections"
COMMUNITY_MANIFEST = COMMUNITY_PATH / "ansible_collections" / "community" / "docker" / "MANIFEST.json"
# Medians of every section, for the closing table: (section, operation, {contender: seconds}).
SUMMARY: list = []


def load_config() -> dict:
    with open(BUILD / "integration_config.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class PlaybookRun:
    """One ansible-playbook run with per-task wall times and per-module-process times."""

    def __init__(self, config: dict, plays: list) -> None:
        self.config = config
        self.plays = plays
        self.task_seconds: list[dict] = []
        self.process_seconds: list[float] = []
        # One entry per module process, in task order: {"module", "seconds", "peak_rss_mib"}.
        self.processes: list[dict] = []
        self.total_seconds = 0.0

    def run(self) -> "PlaybookRun":
        with tempfile.TemporaryDirectory(prefix="moby-bench-") as tmp:
            tmp_path = Path(tmp)
            playbook = tmp_path / "bench.yml"
            playbook.write_text(yaml.safe_dump(self.plays, sort_keys=False), encoding="utf-8")
            task_log, process_log = tmp_path / "tasks.jsonl", tmp_path / "processes.log"
            env = dict(os.environ,
                       ANSIBLE_COLLECTIONS_PATH=os.pathsep.join((str(BUILD), str(COMMUNITY_PATH))),
                       ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callback_plugins"),
                       ANSIBLE_CALLBACKS_ENABLED="moby_bench_timer",
                       MOBY_BENCH_TASK_LOG=str(task_log),
                       MOBY_BENCH_PROCESS_LOG=str(process_log),
                       MOBY_BENCH_PYTHON=self.config["moby_python"])
            started = time.perf_counter()
            completed = subprocess.run(
                [str(Path(self.config["moby_python"]).parent / "ansible-playbook"), "-i", "localhost,",
                 "-c", "local", "-e", "@" + str(BUILD / "integration_config.yml"),
                 "-e", "ansible_python_interpreter=" + str(HERE / "timed-python"), str(playbook)],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
            self.total_seconds = time.perf_counter() - started
            if completed.returncode != 0:
                sys.stdout.write(completed.stdout.decode("utf-8", "replace")[-4000:])
                raise SystemExit("bench: a playbook failed (see above)")
            self.task_seconds = [json.loads(line) for line in task_log.read_text().splitlines()]
            for line in process_log.read_text().splitlines():
                start, end, rss_kib, module = line.split()
                self.process_seconds.append((int(end) - int(start)) / 1e9)
                self.processes.append({"module": module, "seconds": (int(end) - int(start)) / 1e9,
                                       "peak_rss_mib": round(int(rss_kib) / 1024, 1)})
        return self

    def tasks_named(self, prefix: str) -> list[float]:
        return [entry["seconds"] for entry in self.task_seconds if entry["task"].startswith(prefix)]


def play(tasks: list, name: str = "bench") -> dict:
    return {"name": name, "hosts": "localhost", "gather_facts": False,
            "module_defaults": {"group/moby.engine.engine": {"docker_host": "{{ moby_docker_host }}"}},
            "tasks": tasks}


def docker_env(config: dict) -> dict:
    return dict(os.environ, DOCKER_HOST=config["moby_docker_host"], DOCKER_CONFIG=str(BUILD / "docker-config"))


def docker(config: dict, *args: str) -> None:
    subprocess.run(["docker", *args], env=docker_env(config), check=True, stdout=subprocess.DEVNULL)


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def community_docker() -> bool:
    """Whether community.docker is in build/bench/collections, unpacking it from the ansible package when not.

    Only the collection is taken from the wheel (pip download --no-deps): the venv's ansible-core stays as it is.
    Without it (no package index reachable) the sections report moby.engine and the CLI only."""
    if COMMUNITY_MANIFEST.exists():
        return True
    wheels = BENCH_DIR / "wheels"
    print("[bench] fetching community.docker ({0}, collection files only)".format(COMMUNITY_PACKAGE), flush=True)
    completed = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                                "--no-deps", "-d", str(wheels), COMMUNITY_PACKAGE],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    found = sorted(wheels.glob("ansible-*.whl"))
    if completed.returncode != 0 or not found:
        print("[bench] community.docker unavailable, left out: {0}".format(
            completed.stdout.decode("utf-8", "replace")[-500:]))
        return False
    prefix = "ansible_collections/community/docker/"
    with zipfile.ZipFile(found[-1]) as wheel:
        wheel.extractall(COMMUNITY_PATH, [member for member in wheel.namelist() if member.startswith(prefix)])
    return COMMUNITY_MANIFEST.exists()


def in_turn(iteration: int, measures: list) -> None:
    """Runs one iteration's measurements, each contender going first in its turn (the machine is shared)."""
    shift = iteration % len(measures)
    for measure in measures[shift:] + measures[:shift]:
        measure()


def after_sync(measure):
    """``measure``, started once the dirty pages of what ran before are on disk: an export that does not fsync
    (docker save -o, community.docker) leaves up to its whole archive to be written back, and a pull its layers,
    which would otherwise slow down whichever export or pull comes next."""
    def measure_after_sync() -> None:
        os.sync()
        measure()
    return measure_after_sync


def medians(results: dict, section: str, operation: str, keys: dict) -> None:
    """Adds ``<key>_median`` for each contender's key and ratios to the CLI, and a row to the closing table."""
    row = {}
    for contender, key in keys.items():
        if results.get(key):
            results[key + "_median"] = row[contender] = round(statistics.median(results[key]), 3)
    cli = row.get("docker CLI") or row.get("ping")
    # Any module process first pays for the interpreter and the AnsiballZ payload: ping's process time, measured
    # in the same runs, is that share; the ratio without it compares the module's own work with the CLI's.
    ping = statistics.median(results["ping_process_s"]) if "docker CLI" in row and results.get(
        "ping_process_s") else None
    for contender, value in row.items():
        if cli and contender not in ("docker CLI", "ping"):
            key = "{0}_{1}_over_reference".format(operation.replace(" ", "_"), contender.split(".")[0])
            results[key] = ratio(value, cli)
            if "docker CLI" in row:
                # Ratios within each iteration (both measured minutes apart at most), then their median: steadier
                # than the ratio of medians when the machine's load drifts during the section.
                results[key.replace("_over_", "_paired_median_over_")] = round(statistics.median(
                    [mine / theirs for mine, theirs in zip(results[keys[contender]], results[keys["docker CLI"]])]), 2)
            if ping is not None:
                results[key.replace("_over_", "_less_ping_over_")] = ratio(value - ping, cli)
    SUMMARY.append((section, operation, dict(row, **({"ping process": round(ping, 3)} if ping is not None else {}))))


def bench_info(config: dict) -> dict:
    """20 image_info tasks on one image beside 20 ping and 20 community.docker docker_image_info tasks, per run."""
    count = 20
    blocks = [[{"name": "ping {0}".format(i), "ansible.builtin.ping": {}} for i in range(count)],
              [{"name": "info {0}".format(i), "moby.engine.image_info": {"name": "{{ moby_base_image }}"}}
               for i in range(count)]]
    if community_docker():
        blocks.append([{"name": "cdinfo {0}".format(i), "community.docker.docker_image_info": {
            "name": "{{ moby_base_image }}", "docker_host": "{{ moby_docker_host }}"}} for i in range(count)])
    results: dict = {"tasks": count, "iterations": ITERATIONS}
    names = {"ping": "ping", "moby.engine": "info", "community.docker": "cdinfo"}
    modules = {"ping": "ping", "moby.engine": "image_info", "community.docker": "docker_image_info"}
    for iteration in range(ITERATIONS):
        shift = iteration % len(blocks)
        tasks = [task for block in blocks[shift:] + blocks[:shift] for task in block]
        run = PlaybookRun(config, [play(tasks)]).run()
        for contender, prefix in names.items():
            if run.tasks_named(prefix + " "):
                measured(results, prefix + "_task_s", statistics.median(run.tasks_named(prefix + " ")))
                measured(results, prefix + "_process_s", statistics.median(
                    [process["seconds"] for process in module_processes(run, modules[contender])]))
    medians(results, "info", "per task", {contender: prefix + "_task_s" for contender, prefix in names.items()})
    medians(results, "info", "per module process", {contender: prefix + "_process_s"
                                                    for contender, prefix in names.items()})
    for prefix in ("info", "cdinfo"):
        if results.get(prefix + "_task_s"):
            results[prefix + "_task_over_ping_ms"] = round(
                (results[prefix + "_task_s_median"] - results["ping_task_s_median"]) * 1000, 1)
    for key in list(results):
        if isinstance(results[key], list):
            results[key] = [round(value, 3) for value in results[key]]
    results["target"] = "image_info within 100 ms per task of ping"
    return results


def bench_pull(config: dict) -> dict:
    """8 small images pulled from the local registry: one list task against 8 looped tasks."""
    names = ["{0}/moby-bench/pull-{1}:1".format(config["moby_registry"], i) for i in range(8)]
    rootfs = BUILD / "busybox-rootfs"
    for index, name in enumerate(names):
        tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE, check=True).stdout
        env = dict(os.environ, DOCKER_HOST=config["moby_docker_host"])
        subprocess.run(["docker", "import", "--change", "LABEL moby.bench.index={0}-{1}".format(index, time.time()),
                        "-", name], input=tar, env=env, check=True, stdout=subprocess.DEVNULL)
        docker(config, "push", name)
    auth = {"username": "{{ moby_registry_user }}", "password": "{{ moby_registry_password }}"}
    results = {}
    try:
        for label, tasks in (
                ("one_list_task", [{"name": "pull list", "moby.engine.image_pull": {
                    "name": names, "registry_auth": auth}}]),
                ("looped_tasks", [{"name": "pull loop", "moby.engine.image_pull": {
                    "name": "{{ item }}", "registry_auth": auth}, "loop": names}])):
            docker(config, "image", "rm", *names)
            run = PlaybookRun(config, [play(tasks)]).run()
            results[label + "_s"] = round(sum(run.tasks_named("pull")), 2)
    finally:
        subprocess.run(["docker", "image", "rm", "-f", *names], env=dict(os.environ, DOCKER_HOST=config["moby_docker_host"]),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results["images"] = len(names)
    results["speedup"] = round(results["looped_tasks_s"] / results["one_list_task_s"], 2)
    return results


def timed_docker(config: dict, *args: str, env: dict | None = None) -> float:
    """Wall seconds of one docker CLI command; its output is discarded unless it fails."""
    started = time.perf_counter()
    completed = subprocess.run(["docker", *args], env=dict(docker_env(config), **(env or {})), check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.stdout.write(completed.stderr.decode("utf-8", "replace")[-4000:])
        raise SystemExit("bench: docker {0} failed (see above)".format(" ".join(args)))
    return elapsed


def remove_images(config: dict, *names: str) -> None:
    """Cleanup: removes the images when present, never fails."""
    subprocess.run(["docker", "image", "rm", "-f", *names], env=docker_env(config), check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class RandomBytes:
    """A file-like source of ``size`` random bytes: incompressible, so every layer is unique and full size."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        count = self.left if size < 0 else min(size, self.left)
        self.left -= count
        return os.urandom(count)


def import_random_image(config: dict, name: str, size: int) -> None:
    """A one-layer image holding one file of ``size`` random bytes, streamed into ``docker import``."""
    with subprocess.Popen(["docker", "import", "-", name], stdin=subprocess.PIPE, env=docker_env(config),
                          stdout=subprocess.DEVNULL) as importer:
        with tarfile.open(fileobj=importer.stdin, mode="w|") as tar:
            member = tarfile.TarInfo("random.bin")
            member.size, member.mode, member.mtime = size, 0o644, int(time.time())
            tar.addfile(member, RandomBytes(size))
        importer.stdin.close()
    if importer.returncode != 0:
        raise SystemExit("bench: docker import of {0} failed".format(name))


def module_processes(run: PlaybookRun, module: str) -> list[dict]:
    return [process for process in run.processes if process["module"] == module]


def run_after_ping(config: dict, tasks: list, results: dict) -> PlaybookRun:
    """Runs the tasks after an ansible.builtin.ping, whose process time is recorded as ``ping_process_s``:
    the fixed cost of any module process (interpreter start, AnsiballZ unpacking) on this machine, now."""
    run = PlaybookRun(config, [play([{"name": "ping", "ansible.builtin.ping": {}}] + tasks)]).run()
    measured(results, "ping_process_s", seconds(module_processes(run, "ping")[0]["seconds"]))
    return run


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 2)


def seconds(value: float) -> float:
    return round(value, 2)


def alternating(rep: int, cli, module) -> None:
    """Runs both measurements of one repetition; the CLI goes first in even repetitions, the module in odd ones."""
    for measure in ((cli, module) if rep % 2 == 0 else (module, cli)):
        measure()


def measured(results: dict, key: str, value: float) -> None:
    results.setdefault(key, []).append(value)


def make_build_context(path: Path, files: int, total_bytes: int) -> int:
    """``files`` files of random content (sizes around total/files) in 200 directories, plus a Dockerfile."""
    rng = random.Random(files)
    average, written = total_bytes // files, 0
    for index in range(files):
        directory = path / "d{0:03}".format(index % 200)
        directory.mkdir(parents=True, exist_ok=True)
        size = rng.randint(average // 2, average * 3 // 2)
        (directory / "f{0:05}.bin".format(index)).write_bytes(rng.randbytes(size))
        written += size
    return written


def bench_build(config: dict) -> dict:
    """A forced build of a 20,000-file, ~200 MB context: image_build against DOCKER_BUILDKIT=0 docker build."""
    context = BENCH_DIR / "build-context"
    cli_name, module_name = "moby-bench/build:cli", "moby-bench/build:module"
    shutil.rmtree(context, ignore_errors=True)
    context_bytes = make_build_context(context, 20000, 200 * MIB)
    # The whole context is uploaded and unpacked by the engine, but only the Dockerfile is copied into the
    # image: the figure then measures what the client does (digest, tar stream) rather than layer commits.
    (context / "Dockerfile").write_text("FROM {0}\nCOPY Dockerfile /bench/Dockerfile\n".format(
        config["moby_base_image"]), encoding="utf-8")
    build = {"name": module_name, "path": str(context)}
    tasks = [{"name": "build forced", "moby.engine.image_build": dict(build, rebuild="always", nocache=True)},
             {"name": "build rerun", "moby.engine.image_build": dict(build, rebuild="changed"),
              "register": "rerun"},
             {"name": "check rerun", "ansible.builtin.assert": {
                 "that": ["not rerun.changed", "not rerun.built"], "msg": "the no-change rerun built"}}]
    results: dict = {"context": "{0} files, {1:.1f} MiB".format(20000, context_bytes / MIB)}

    def cli() -> None:
        measured(results, "cli_build_s", seconds(timed_docker(
            config, "build", "--no-cache", "-t", cli_name, str(context), env={"DOCKER_BUILDKIT": "0"})))

    def module() -> None:
        run = run_after_ping(config, tasks, results)
        forced, rerun = module_processes(run, "image_build")
        measured(results, "module_build_process_s", seconds(forced["seconds"]))
        measured(results, "module_build_task_s", seconds(run.tasks_named("build forced")[0]))
        measured(results, "module_build_peak_rss_mib", forced["peak_rss_mib"])
        measured(results, "module_rerun_process_s", seconds(rerun["seconds"]))
        measured(results, "module_rerun_peak_rss_mib", rerun["peak_rss_mib"])

    try:
        for rep in range(REPEATS):
            alternating(rep, cli, module)
    finally:
        remove_images(config, cli_name, module_name)
        shutil.rmtree(context, ignore_errors=True)
    results["ratio_module_over_cli"] = [ratio(module_s, cli_s) for module_s, cli_s in
                                        zip(results["module_build_process_s"], results["cli_build_s"])]
    results["rerun_fraction_of_build"] = [ratio(rerun_s, build_s) for rerun_s, build_s in
                                          zip(results["module_rerun_process_s"], results["module_build_process_s"])]
    results["target"] = "ratio within 1.05x, peak RSS under 64 MiB, rerun a fraction of the build"
    return results


class RegistryRepository:
    """Removes what the benchmark pushed to one repository of the local registry."""

    MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"

    def __init__(self, config: dict, repository: str) -> None:
        self.base = "http://{0}/v2/{1}".format(config["moby_registry"], repository)
        self.repository = repository
        self.auth = (config["moby_registry_user"], config["moby_registry_password"])

    def delete(self, tags: list[str]) -> None:
        """Deletes the tags' manifests through the API, then the repository and the blobs from the storage.

        The registry's API only unlinks blobs (they stay on disk until a garbage collection, which is unsafe
        while others push); the blobs here are random data that only this benchmark references, so they
        are removed from the storage directly.
        """
        blobs = []
        for tag in tags:
            response = requests.get("{0}/manifests/{1}".format(self.base, tag), auth=self.auth, timeout=30,
                                    headers={"Accept": self.MANIFEST_TYPES})
            if response.status_code == 404:
                continue
            response.raise_for_status()
            manifest = response.json()
            digest = response.headers["Docker-Content-Digest"]
            blobs += [digest, manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
            requests.delete("{0}/manifests/{1}".format(self.base, digest), auth=self.auth,
                            timeout=30).raise_for_status()
        with open(BUILD / "registry" / "config.yml", encoding="utf-8") as handle:
            storage = Path(yaml.safe_load(handle)["storage"]["filesystem"]["rootdirectory"]) / "docker/registry/v2"
        shutil.rmtree(storage / "repositories" / self.repository, ignore_errors=True)
        for blob in blobs:
            hex_digest = blob.split(":", 1)[1]
            shutil.rmtree(storage / "blobs/sha256" / hex_digest[:2] / hex_digest, ignore_errors=True)


def community_task(module: str, options: dict, config: dict) -> dict:
    """A community.docker task against the bench engine; registry credentials come from the CLI's config."""
    return {"name": module, "community.docker." + module: dict(options, docker_host=config["moby_docker_host"]),
            "environment": {"DOCKER_CONFIG": str(BUILD / "docker-config")}}


def bench_push_pull(config: dict) -> dict:
    """A 500 MiB random-data image pushed and pulled: image_push/pull beside community.docker and docker push/pull."""
    repository = "moby-bench/push-pull"
    auth = {"username": "{{ moby_registry_user }}", "password": "{{ moby_registry_password }}"}
    size_mib = int(os.environ.get("MOBY_BENCH_PUSH_MIB", "500"))
    community = community_docker()
    results: dict = {"image_mib": size_mib, "iterations": ITERATIONS}
    tags: list[str] = []

    def name_for(tag: str) -> str:
        return "{0}/{1}:{2}".format(config["moby_registry"], repository, tag)

    def cli(operation: str, name: str) -> None:
        measured(results, "cli_{0}_s".format(operation), seconds(timed_docker(config, operation, name)))

    def module_run(module: str, name: str, rerun: dict) -> None:
        operation = module.split("_")[1]
        tasks = [{"name": operation, "moby.engine." + module: {"name": name, "registry_auth": auth}},
                 {"name": operation + " rerun", "moby.engine." + module: dict(
                     {"name": name, "registry_auth": auth}, **rerun), "register": "rerun"},
                 {"name": "check rerun", "ansible.builtin.assert": {
                     "that": ["not rerun.changed"], "msg": "the no-change rerun changed something"}}]
        first, again = module_processes(run_after_ping(config, tasks, results), module)
        measured(results, "module_{0}_process_s".format(operation), seconds(first["seconds"]))
        measured(results, "module_{0}_peak_rss_mib".format(operation), first["peak_rss_mib"])
        measured(results, "module_{0}_rerun_process_s".format(operation), seconds(again["seconds"]))

    def community_run(operation: str, name: str) -> None:
        repo, tag = name.rsplit(":", 1)
        module = "docker_image_" + operation
        options = {"name": repo, "tag": tag}
        if operation == "pull":
            options["pull"] = "always"
        run = run_after_ping(config, [community_task(module, options, config)], results)
        (process,) = module_processes(run, module)
        measured(results, "community_{0}_process_s".format(operation), seconds(process["seconds"]))
        measured(results, "community_{0}_peak_rss_mib".format(operation), process["peak_rss_mib"])

    try:
        for rep in range(ITERATIONS):
            # Each push gets its own random image: a registry that already holds the layer uploads nothing.
            names = {who: name_for("{0}-{1}".format(who, rep)) for who in ("cli", "module", "community")}
            if not community:
                del names["community"]
            tags += [name.rsplit(":", 1)[1] for name in names.values()]
            for name in names.values():
                import_random_image(config, name, size_mib * MIB)
            for operation, rerun in (("push", {}), ("pull", {"pull": "always"})):
                # After a sync, as the exports: a pull leaves its layers' data to be written back, which the next
                # measure would otherwise wait on. The first pull of an iteration stays the fastest, whoever makes it,
                # with the sync too (cause unknown); in_turn rotates who goes first.
                measures = [after_sync(partial(cli, operation, names["cli"])),
                            after_sync(partial(module_run, "image_" + operation, names["module"], rerun))]
                if community:
                    measures.append(after_sync(partial(community_run, operation, names["community"])))
                in_turn(rep, measures)
                remove_images(config, *names.values())
    finally:
        remove_images(config, *(name_for(tag) for tag in tags))
        RegistryRepository(config, repository).delete(tags)
    for operation in ("push", "pull"):
        results["{0}_ratio_module_over_cli".format(operation)] = [
            ratio(module_s, cli_s) for module_s, cli_s in
            zip(results["module_{0}_process_s".format(operation)], results["cli_{0}_s".format(operation)])]
        medians(results, "push_pull", "{0} {1} MiB".format(operation, size_mib), {
            "moby.engine": "module_{0}_process_s".format(operation),
            "community.docker": "community_{0}_process_s".format(operation),
            "docker CLI": "cli_{0}_s".format(operation)})
    results["target"] = "module process within 1.10x the CLI; pull rerun is pull=always (a registry digest check)"
    return results


def bench_export_load(config: dict) -> dict:
    """256 MiB and 1 GiB random-data images: image_export/load beside community.docker and docker save -o/load -i."""
    results: dict = {"iterations": ITERATIONS}
    archives = BENCH_DIR / "export-load"
    community = community_docker()

    def measure_size(label: str, size: int) -> None:
        name = "moby-bench/export-load:{0}".format(label)
        archive = {who: archives / "{0}-{1}.tar".format(label, who) for who in ("cli", "module", "community")}
        import_random_image(config, name, size)
        # Every load reads this one archive, so that the loads differ in the loader alone: an archive left by
        # image_export is not in the page cache (it goes straight to the disk, see _files.DiskWriter), and
        # loading it would measure the disk too (about 0.5 s at 1 GiB when part of it was out of the cache).
        loaded = archives / "{0}-loaded.tar".format(label)
        timed_docker(config, "save", "-o", str(loaded), name)

        def removed_after(export, who: str):
            """``export``, then its archive removed: every export then starts with the same files on the disk.
            While each iteration's archives were kept until the next one, its first export (whichever contender
            made it) took about 4.5 s at 1 GiB and the others about 6.5 s; with this, no position stands out."""
            def export_then_remove() -> None:
                export()
                archive[who].unlink()
            return export_then_remove

        def module_run(module: str, options: dict) -> None:
            operation = module.split("_")[1]
            tasks = [{"name": operation, "moby.engine." + module: options},
                     {"name": operation + " rerun", "moby.engine." + module: options, "register": "rerun"},
                     {"name": "check rerun", "ansible.builtin.assert": {
                         "that": ["not rerun.changed"], "msg": "the no-change rerun changed something"}}]
            first, again = module_processes(run_after_ping(config, tasks, results), module)
            measured(results, "{0}_module_{1}_process_s".format(label, operation), seconds(first["seconds"]))
            measured(results, "{0}_module_{1}_peak_rss_mib".format(label, operation), first["peak_rss_mib"])
            measured(results, "{0}_module_{1}_rerun_process_s".format(label, operation), seconds(again["seconds"]))

        def community_run(module: str, options: dict) -> None:
            operation = module.split("_")[2]
            run = run_after_ping(config, [community_task(module, options, config)], results)
            (process,) = module_processes(run, module)
            measured(results, "{0}_community_{1}_process_s".format(label, operation), seconds(process["seconds"]))
            measured(results, "{0}_community_{1}_peak_rss_mib".format(label, operation), process["peak_rss_mib"])

        def cli_save() -> None:
            measured(results, label + "_cli_save_s", seconds(timed_docker(config, "save", "-o", str(archive["cli"]),
                                                                          name)))

        def cli_load() -> None:
            remove_images(config, name)
            measured(results, label + "_cli_load_s", seconds(timed_docker(config, "load", "-i", str(loaded))))

        def module_load() -> None:
            remove_images(config, name)
            module_run("image_load", {"path": str(loaded)})

        def community_load() -> None:
            remove_images(config, name)
            community_run("docker_image_load", {"path": str(loaded)})

        for rep in range(ITERATIONS):
            exports = [after_sync(removed_after(cli_save, "cli")), after_sync(removed_after(partial(
                module_run, "image_export", {"name": [name], "path": str(archive["module"])}), "module"))]
            loads = [cli_load, module_load]
            if community:
                exports.append(after_sync(removed_after(partial(community_run, "docker_image_export", {
                    "names": [name], "path": str(archive["community"])}), "community")))
                loads.append(community_load)
            in_turn(rep, exports)
            in_turn(rep, loads)
        for operation, cli_operation in (("export", "save"), ("load", "load")):
            results["{0}_{1}_ratio_module_over_cli".format(label, operation)] = [
                ratio(module_s, cli_s) for module_s, cli_s in
                zip(results["{0}_module_{1}_process_s".format(label, operation)],
                    results["{0}_cli_{1}_s".format(label, cli_operation)])]
            medians(results, "export_load", "{0} {1}".format(operation, label), {
                "moby.engine": "{0}_module_{1}_process_s".format(label, operation),
                "community.docker": "{0}_community_{1}_process_s".format(label, operation),
                "docker CLI": "{0}_cli_{1}_s".format(label, cli_operation)})

    archives.mkdir(parents=True, exist_ok=True)
    sizes = os.environ.get("MOBY_BENCH_EXPORT_SIZES", "256mib 1gib").split()
    try:
        for label in sizes:
            measure_size(label, {"256mib": 256 * MIB, "1gib": 1024 * MIB}[label])
    finally:
        remove_images(config, *("moby-bench/export-load:" + label for label in sizes))
        shutil.rmtree(archives, ignore_errors=True)
    results["target"] = "module within 1.05x the CLI, peak RSS under 64 MiB and the same for 256 MiB and 1 GiB"
    return results


def fleet_playbook(config: dict, name: str, inventory: Path, forks: int) -> float:
    """Wall seconds of one playbook of the molecule fleet scenario against ``inventory``."""
    scenario = ROOT / "extensions" / "molecule" / "fleet"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(BUILD), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    started = time.perf_counter()
    completed = subprocess.run(
        [str(Path(config["moby_python"]).parent / "ansible-playbook"), "-i", str(inventory), "--forks", str(forks),
         str(scenario / name)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.stdout.write(completed.stdout.decode("utf-8", "replace")[-4000:])
        raise SystemExit("bench: fleet playbook {0} failed (see above)".format(name))
    return elapsed


def bench_fleet(config: dict) -> dict:
    """The molecule fleet rollout (extensions/molecule/fleet) on 1, 3 and 6 engines, forks = engines."""
    # MOBY_BENCH_FLEET_SIZES="1 3" measures fewer fleets on a small machine; each engine is a dockerd.
    sizes = [int(size) for size in os.environ.get("MOBY_BENCH_FLEET_SIZES", "1 3 6").split()]
    results = {}
    with tempfile.TemporaryDirectory(prefix="moby-bench-fleet-") as tmp:
        for size in sizes:
            hosts = {"engine{0}".format(i): {} for i in range(1, size + 1)}
            if size > 1:
                # As in the molecule scenario, the last engine gets the release from an archive.
                hosts["engine{0}".format(size)] = {"fleet_offline": True}
            inventory = Path(tmp) / "fleet-{0}.yml".format(size)
            inventory.write_text(yaml.safe_dump({"all": {"children": {"engines": {
                "vars": {"ansible_connection": "local"}, "hosts": hosts}}}}), encoding="utf-8")
            try:
                fleet_playbook(config, "create.yml", inventory, size)
                fleet_playbook(config, "prepare.yml", inventory, size)
                results["engines_{0}_rollout_s".format(size)] = round(
                    fleet_playbook(config, "converge.yml", inventory, size), 2)
                results["engines_{0}_rerun_s".format(size)] = round(
                    fleet_playbook(config, "converge.yml", inventory, size), 2)
            finally:
                fleet_playbook(config, "destroy.yml", inventory, size)
    results["note"] = "rollout = build once, push, pull everywhere, export/load, tag, prune; rerun changes nothing"
    return results


SECTIONS = {"info": bench_info, "pull": bench_pull, "build": bench_build, "push_pull": bench_push_pull,
            "export_load": bench_export_load, "fleet": bench_fleet}


def print_summary() -> None:
    """Medians side by side, with each collection's ratio to the reference (the docker CLI, or ping)."""
    if not SUMMARY:
        return
    print("== medians of {0} iterations (seconds; ratio to the reference: the docker CLI, or ping for info; "
          "'-ping': the module's time less ping's process time, the cost of starting any module)".format(ITERATIONS))
    print("   {0:12} {1:20} {2:>9} {3:>16} {4:>10} {5:>8} {6:>8} {7:>10} {8:>8}".format(
        "section", "operation", "moby", "community.docker", "reference", "moby/ref", "cd/ref", "moby-ping", "cd-ping"))
    for section, operation, row in SUMMARY:
        reference = row.get("docker CLI") or row.get("ping")
        moby, community = row.get("moby.engine"), row.get("community.docker")
        start = row.get("ping process")

        def cell(value: float | None) -> str:
            return "-" if value is None else "{0:.3f}".format(value)

        def share(value: float | None) -> str:
            return "-" if value is None or not reference else "{0:.2f}x".format(value / reference)

        def net(value: float | None) -> str:
            return "-" if value is None or start is None else share(value - start)

        print("   {0:12} {1:20} {2:>9} {3:>16} {4:>10} {5:>8} {6:>8} {7:>10} {8:>8}".format(
            section, operation, cell(moby), cell(community), cell(reference), share(moby), share(community),
            net(moby), net(community)))


def main(argv: list[str]) -> int:
    config = load_config()
    chosen = argv or list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        print("bench: unknown section(s) {0}; choose from {1}".format(", ".join(unknown), ", ".join(SECTIONS)))
        return 2
    report = {}
    for name in chosen:
        print("== {0}: {1}".format(name, SECTIONS[name].__doc__.strip().splitlines()[0]), flush=True)
        report[name] = SECTIONS[name](config)
        for key, value in report[name].items():
            print("   {0:32} {1}".format(key, value))
    print_summary()
    report["summary"] = [{"section": section, "operation": operation, "median_s": row}
                         for section, operation, row in SUMMARY]
    (BUILD / "bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("written: {0}".format(BUILD / "bench.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
