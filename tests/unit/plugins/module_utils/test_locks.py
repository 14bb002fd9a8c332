# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""host_lock: serialises tasks, in a directory only this user can write, for a bounded time."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ansible_collections.moby.engine.plugins.module_utils import _locks
from ansible_collections.moby.engine.plugins.module_utils._errors import MobyEngineError
from ansible_collections.moby.engine.plugins.module_utils._locks import host_lock, lock_directory


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(_locks.tempfile, "gettempdir", lambda: str(tmp_path))
    return tmp_path


def test_host_lock_serialises_holders_of_the_same_key():
    events = []

    def hold(name):
        with host_lock("unix:///var/run/docker.sock", "moby/test-lock:1", timeout=10):
            events.append(name + " in")
            time.sleep(0.05)
            events.append(name + " out")

    threads = [threading.Thread(target=hold, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # flock locks belong to the open file description, so threads with their own open() exclude each other.
    assert all(events[i].split()[0] == events[i + 1].split()[0] for i in range(0, len(events), 2))
    assert len(events) == 6


def test_lock_directory_is_private_to_the_user(private_tmp):
    path = lock_directory()
    assert path == str(private_tmp / "moby.engine-{0}".format(os.getuid()))
    info = os.lstat(path)
    assert info.st_uid == os.getuid()
    assert info.st_mode & 0o777 == 0o700


def test_a_directory_another_user_could_write_is_refused(private_tmp):
    planted = private_tmp / "moby.engine-{0}".format(os.getuid())
    planted.mkdir()
    planted.chmod(0o777)
    with pytest.raises(MobyEngineError, match="is not a directory that only uid .* can write .*mode 777.*remove it"):
        with host_lock("unix:///var/run/docker.sock", "app:1", timeout=1):
            pass


def test_a_symlink_in_place_of_the_directory_is_refused(private_tmp):
    os.symlink(str(private_tmp), str(private_tmp / "moby.engine-{0}".format(os.getuid())))
    with pytest.raises(MobyEngineError, match="is not a directory that only uid"):
        lock_directory()


def test_a_held_lock_is_waited_for_no_longer_than_the_timeout():
    held, release = threading.Event(), threading.Event()

    def holder():
        with host_lock("unix:///var/run/docker.sock", "app:1", timeout=5):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    try:
        with pytest.raises(MobyEngineError) as exc:
            with host_lock("unix:///var/run/docker.sock", "app:1", timeout=0.3):
                pass
    finally:
        release.set()
        thread.join()
    # The message names the holder (this process, since the holder is a thread) and the option to raise.
    assert "another task (process {0}) has been working on unix:///var/run/docker.sock app:1".format(
        os.getpid()) in str(exc.value)
    assert "raise timeout" in str(exc.value)


def test_other_keys_do_not_wait():
    with host_lock("unix:///var/run/docker.sock", "app:1", timeout=5):
        with host_lock("unix:///var/run/docker.sock", "app:2", timeout=0.1):
            pass


def test_a_directory_removed_between_mkdir_and_lstat_is_made_again(private_tmp, monkeypatch):
    # A holder releasing the last lock removes the directory: another task's mkdir may have just found it there.
    real_mkdir = os.mkdir
    calls = []

    def mkdir_that_found_it_once(path, mode):
        calls.append(path)
        if len(calls) == 1:
            raise FileExistsError(17, "File exists", path)
        real_mkdir(path, mode)

    monkeypatch.setattr(_locks.os, "mkdir", mkdir_that_found_it_once)
    path = lock_directory()
    assert len(calls) == 2
    assert os.path.isdir(path)


def test_nothing_stays_behind(private_tmp):
    with host_lock("unix:///var/run/docker.sock", "app:1", timeout=5):
        assert len(os.listdir(lock_directory())) == 1
    assert os.listdir(str(private_tmp)) == []


def test_many_holders_in_turn_leave_nothing_behind(private_tmp):
    counter = {"inside": 0, "most": 0, "turns": 0}
    guard = threading.Lock()
    errors = []

    def hold():
        try:
            for _turn in range(20):
                with host_lock("unix:///var/run/docker.sock", "app:1", timeout=10):
                    with guard:
                        counter["inside"] += 1
                        counter["most"] = max(counter["most"], counter["inside"])
                        counter["turns"] += 1
                    time.sleep(0.001)
                    with guard:
                        counter["inside"] -= 1
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)

    threads = [threading.Thread(target=hold) for _thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every holder got all its turns (a thread's exception would not fail the test by itself).
    assert errors == []
    assert counter["turns"] == 80
    # Unlinking on release never let two holders in at once.
    assert counter["most"] == 1
    assert os.listdir(str(private_tmp)) == []
