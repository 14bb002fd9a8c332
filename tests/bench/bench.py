#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""moby.engine benchmark (``make bench``): figures, never pass/fail thresholds.

Every section runs its playbooks through ansible-playbook against the real engine and registry
that ``make engine`` set up, and reports next to a reference measured in the same run
(ansible.builtin.ping, or the docker CLI). Results go to stdout and build/bench.json.

    python tests/bench/bench.py [SECTION ...]     (sections: info, pull)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = ROOT / "build"


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


def docker(config: dict, *args: str) -> None:
    env = dict(os.environ, DOCKER_HOST=config["moby_docker_host"], DOCKER_CONFIG=str(BUILD / "docker-config"))
    subprocess.run(["docker", *args], env=env, check=True, stdout=subprocess.DEVNULL)


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


SECTIONS = {"info": bench_info, "pull": bench_pull}


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
