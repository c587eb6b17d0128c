"""CPU time and memory of the server's processes, read from Linux's /proc.

The master, the allocator and each worker are separate processes, so one
process's own figures (what a Prometheus client library exports) would say
little: a scrape lands on any worker. Any worker can read every sibling's
/proc entry instead, and the stress toolkit compares two readings to tell how
much CPU the server spent on a load. This module is the one reader of
/proc/<pid>: the stress toolkit and the tests read processes through it too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
# Fields of /proc/<pid>/stat after the command name, counted from 0 (state is 0).
_STATE, _PARENT, _PROCESS_GROUP = 0, 1, 2
_UTIME, _STIME = 11, 12
_RSS_PAGES = 21


@dataclass(frozen=True)
class ProcessUsage:
    role: str  # "master", "allocator" or "worker"; "process" where no one asks
    pid: int
    cpu_s: float  # user + system time since the process started
    resident_bytes: int

    def to_json(self) -> dict[str, object]:
        return {
            "role": self.role,
            "pid": self.pid,
            "cpuSeconds": round(self.cpu_s, 2),
            "residentBytes": self.resident_bytes,
        }


def stat_fields(pid: int, proc: Path = Path("/proc")) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first); None
    when the process is gone (or was never there)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may itself hold spaces and parentheses.
    return stat[stat.rindex(")") + 2 :].split()


def usage_of(role: str, pid: int, proc: Path = Path("/proc")) -> ProcessUsage | None:
    """The process's usage; None when it is gone (or was never there)."""
    fields = stat_fields(pid, proc)
    if fields is None:
        return None
    return ProcessUsage(
        role=role,
        pid=pid,
        cpu_s=(int(fields[_UTIME]) + int(fields[_STIME])) / _CLOCK_TICKS_PER_S,
        resident_bytes=int(fields[_RSS_PAGES]) * _PAGE_BYTES,
    )


def usage_of_all(pids: list[tuple[str, int]]) -> list[ProcessUsage]:
    """Usage of each (role, pid) that is alive, in the order given."""
    found = (usage_of(role, pid) for role, pid in pids if pid > 0)
    return [usage for usage in found if usage is not None]


def live_processes(proc: Path = Path("/proc")) -> Iterator[tuple[int, list[str]]]:
    """(pid, stat fields after the command name) of every process that is not a
    zombie: a killed process stays one until its parent reaps it, and may vanish
    at any moment after."""
    for entry in proc.iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name), proc)
            if fields is not None and fields[_STATE] != "Z":
                yield int(entry.name), fields


def children_of(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """Live direct children of a process."""
    return [child for child, fields in live_processes(proc) if int(fields[_PARENT]) == pid]


def processes_in_group(pgid: int, proc: Path = Path("/proc")) -> list[int]:
    """Live members of a process group: a server started in its own session is
    its master's group, with every process it forked."""
    return [
        member for member, fields in live_processes(proc) if int(fields[_PROCESS_GROUP]) == pgid
    ]


def total_cpu_s(pids: Iterable[int], proc: Path = Path("/proc")) -> float:
    """User + system CPU seconds the live processes among `pids` have spent."""
    return sum(usage.cpu_s for usage in _usages(pids, proc))


def total_resident_bytes(pids: Iterable[int], proc: Path = Path("/proc")) -> int:
    """Resident memory of the live processes among `pids`, summed."""
    return sum(usage.resident_bytes for usage in _usages(pids, proc))


def _usages(pids: Iterable[int], proc: Path) -> list[ProcessUsage]:
    found = (usage_of("process", pid, proc) for pid in pids)
    return [usage for usage in found if usage is not None]
