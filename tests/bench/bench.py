#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""moby.engine benchmark (``make bench``): figures, never pass/fail thresholds.

Every section runs its playbooks through ansible-playbook against the real engine and registry
that ``make engine`` set up, and reports next to a reference measured in the same run
(ansible.builtin.ping, or the docker CLI). Results go to stdout and build/bench.json.

    python tests/bench/bench.py [SECTION ...]     (sections: info, pull, build, push_pull, export_load, fleet)

Every measurement of the build, push_pull and export_load sections is taken twice (REPEATS), with the
docker CLI and the module alternating which goes first, and both runs are reported: the machine is shared.
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
                       ANSIBLE_COLLECTIONS_PATH=str(BUILD),
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


def bench_info(config: dict) -> dict:
    """20 image_info tasks on one image next to 20 ansible.builtin.ping tasks, in one run."""
    count = 20
    tasks = [{"name": "ping {0}".format(i), "ansible.builtin.ping": {}} for i in range(count)]
    tasks += [{"name": "info {0}".format(i), "moby.engine.image_info": {"name": "{{ moby_base_image }}"}}
              for i in range(count)]
    run = PlaybookRun(config, [play(tasks)]).run()
    ping_task, info_task = run.tasks_named("ping"), run.tasks_named("info")
    ping_process, info_process = run.process_seconds[:count], run.process_seconds[count:]
    return {
        "tasks": count,
        "ping_task_ms": median_ms(ping_task),
        "image_info_task_ms": median_ms(info_task),
        "task_overhead_over_ping_ms": round(median_ms(info_task) - median_ms(ping_task), 1),
        "ping_process_ms": median_ms(ping_process),
        "image_info_process_ms": median_ms(info_process),
        "process_overhead_over_ping_ms": round(median_ms(info_process) - median_ms(ping_process), 1),
        "target": "image_info within 100 ms per task of ping",
    }


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


def bench_push_pull(config: dict) -> dict:
    """A 50 MB random-data image pushed and pulled: image_push/image_pull against docker push/pull."""
    repository = "moby-bench/push-pull"
    auth = {"username": "{{ moby_registry_user }}", "password": "{{ moby_registry_password }}"}
    results: dict = {"image_mib": 50}
    tags: list[str] = []

    def name_for(tag: str) -> str:
        return "{0}/{1}:{2}".format(config["moby_registry"], repository, tag)

    def cli_push(name: str) -> None:
        measured(results, "cli_push_s", seconds(timed_docker(config, "push", name)))

    def cli_pull(name: str) -> None:
        measured(results, "cli_pull_s", seconds(timed_docker(config, "pull", name)))

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

    try:
        for rep in range(REPEATS):
            # Each push gets its own random image: a registry that already holds the layer uploads nothing.
            cli_name, module_name = name_for("cli-{0}".format(rep)), name_for("module-{0}".format(rep))
            tags += ["cli-{0}".format(rep), "module-{0}".format(rep)]
            for name in (cli_name, module_name):
                import_random_image(config, name, 50 * MIB)
            alternating(rep, partial(cli_push, cli_name), partial(module_run, "image_push", module_name, {}))
            remove_images(config, cli_name, module_name)
            alternating(rep, partial(cli_pull, cli_name),
                        partial(module_run, "image_pull", module_name, {"pull": "always"}))
            remove_images(config, cli_name, module_name)
    finally:
        remove_images(config, *(name_for(tag) for tag in tags))
        RegistryRepository(config, repository).delete(tags)
    for operation in ("push", "pull"):
        results["{0}_ratio_module_over_cli".format(operation)] = [
            ratio(module_s, cli_s) for module_s, cli_s in
            zip(results["module_{0}_process_s".format(operation)], results["cli_{0}_s".format(operation)])]
    results["target"] = "module process within 1.2x the CLI; pull rerun is pull=always (a registry digest check)"
    return results


def bench_export_load(config: dict) -> dict:
    """256 MiB and 1 GiB random-data images: image_export/image_load against docker save -o/docker load -i."""
    results: dict = {}
    archives = BENCH_DIR / "export-load"

    def measure_size(label: str, size: int) -> None:
        name = "moby-bench/export-load:{0}".format(label)
        cli_archive, module_archive = archives / (label + "-cli.tar"), archives / (label + "-module.tar")
        import_random_image(config, name, size)

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

        def cli_save() -> None:
            measured(results, label + "_cli_save_s", seconds(timed_docker(config, "save", "-o", str(cli_archive), name)))

        def cli_load() -> None:
            remove_images(config, name)
            measured(results, label + "_cli_load_s", seconds(timed_docker(config, "load", "-i", str(cli_archive))))

        def module_load() -> None:
            remove_images(config, name)
            module_run("image_load", {"path": str(module_archive)})

        for rep in range(REPEATS):
            for archive in (cli_archive, module_archive):
                archive.unlink(missing_ok=True)  # an archive already in place would make the export a no-op
            alternating(rep, cli_save, partial(module_run, "image_export", {
                "name": [name], "path": str(module_archive)}))
            alternating(rep, cli_load, module_load)
        for operation, cli_operation in (("export", "save"), ("load", "load")):
            results["{0}_{1}_ratio_module_over_cli".format(label, operation)] = [
                ratio(module_s, cli_s) for module_s, cli_s in
                zip(results["{0}_module_{1}_process_s".format(label, operation)],
                    results["{0}_cli_{1}_s".format(label, cli_operation)])]

    archives.mkdir(parents=True, exist_ok=True)
    try:
        measure_size("256mib", 256 * MIB)
        measure_size("1gib", 1024 * MIB)
    finally:
        remove_images(config, "moby-bench/export-load:256mib", "moby-bench/export-load:1gib")
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
    (BUILD / "bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("written: {0}".format(BUILD / "bench.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
