# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark helper: writes each task's wall time (start of task to its result) as JSON lines."""

from __future__ import annotations

DOCUMENTATION = r"""
name: moby_bench_timer
type: aggregate
short_description: Record per-task wall time for the moby.engine benchmark
description:
  - Appends one JSON line per task result to the file named by E(MOBY_BENCH_TASK_LOG).
requirements:
  - enabled in callbacks_enabled
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "moby_bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._started: dict = {}
        self._log_path = os.environ.get("MOBY_BENCH_TASK_LOG", "moby-bench-tasks.jsonl")

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._started[task._uuid] = time.perf_counter()

    def _record(self, result, status: str) -> None:
        started = self._started.get(result._task._uuid)
        if started is None:
            return
        with open(self._log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"task": result._task.get_name(), "status": status,
                                     "seconds": time.perf_counter() - started}) + "\n")

    def v2_runner_on_ok(self, result) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._record(result, "failed")
