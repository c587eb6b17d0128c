from __future__ import annotations

import os

from flashsale.processes import usage_of, usage_of_all


def _fake_proc(tmp_path, pid: int, command: str, utime: int, stime: int, rss_pages: int):
    # /proc/<pid>/stat: pid (comm) state, then fields 4.. ; utime and stime are
    # fields 14 and 15, rss field 24 (man 5 proc).
    fields = ["S"] + ["0"] * 10 + [str(utime), str(stime)] + ["0"] * 8 + [str(rss_pages)]
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
