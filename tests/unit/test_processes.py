from __future__ import annotations

import os

from flashsale.processes import (
    children_of,
    processes_in_group,
    total_cpu_s,
    total_resident_bytes,
    usage_of,
    usage_of_all,
)


def _fake_proc(
    tmp_path,
    pid: int,
    command: str,
    utime: int,
    stime: int,
    rss_pages: int,
    *,
    parent: int = 1,
    group: int = 1,
    state: str = "S",
):
    # /proc/<pid>/stat: pid (comm) state ppid pgrp, then fields 6.. ; utime and
    # stime are fields 14 and 15, rss field 24 (man 5 proc).
    fields = [state, str(parent), str(group)] + ["0"] * 8 + [str(utime), str(stime)]
    fields += ["0"] * 8 + [str(rss_pages)]
    folder = tmp_path / str(pid)
    folder.mkdir()
    (folder / "stat").write_text(f"{pid} ({command}) {' '.join(fields)} 0 0\n")


def test_cpu_and_memory_come_from_the_right_fields(tmp_path):
    # A command name may hold spaces and parentheses: fields count from the last ")".
    _fake_proc(tmp_path, 42, "gunicorn: worker (x) [flashsale]", 250, 150, 1000)
    usage = usage_of("worker", 42, proc=tmp_path)
    ticks = os.sysconf("SC_CLK_TCK")
    assert usage is not None
    assert usage.cpu_s == (250 + 150) / ticks
    assert usage.resident_bytes == 1000 * os.sysconf("SC_PAGE_SIZE")
    assert usage.to_json()["role"] == "worker"


def test_a_process_that_is_gone_is_left_out(tmp_path):
    assert usage_of("worker", 99, proc=tmp_path) is None
    assert usage_of_all([("worker", 0)]) == []  # a row whose worker has not started yet


def test_this_process_reads_as_itself():
    sum(range(2_000_000))  # some CPU time to show
    (usage,) = usage_of_all([("master", os.getpid())])
    assert usage.pid == os.getpid()
    assert usage.cpu_s > 0
    assert usage.resident_bytes > 1 << 20


def test_a_server_s_processes_by_parent_and_by_group(tmp_path):
    _fake_proc(tmp_path, 10, "gunicorn: master", 1, 0, 1, parent=1, group=10)
    _fake_proc(tmp_path, 11, "gunicorn: worker", 1, 0, 1, parent=10, group=10)
    _fake_proc(tmp_path, 12, "flashsale: allocator", 1, 0, 1, parent=10, group=10)
    _fake_proc(tmp_path, 13, "killed worker", 1, 0, 1, parent=10, group=10, state="Z")
    _fake_proc(tmp_path, 14, "a grandchild", 1, 0, 1, parent=12, group=10)
    _fake_proc(tmp_path, 20, "someone else", 1, 0, 1, parent=1, group=20)
    assert sorted(children_of(10, proc=tmp_path)) == [11, 12]  # a zombie is not live
    assert sorted(processes_in_group(10, proc=tmp_path)) == [10, 11, 12, 14]


def test_totals_count_the_live_processes_only(tmp_path):
    _fake_proc(tmp_path, 10, "master", 30, 10, 100)
    _fake_proc(tmp_path, 11, "worker", 50, 10, 300)
    pids = [10, 11, 99]  # 99 is gone
    assert total_cpu_s(pids, proc=tmp_path) == 100 / os.sysconf("SC_CLK_TCK")
    assert total_resident_bytes(pids, proc=tmp_path) == 400 * os.sysconf("SC_PAGE_SIZE")
    assert total_cpu_s([], proc=tmp_path) == 0
