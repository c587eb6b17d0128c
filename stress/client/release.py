"""Client processes released together: started one by one, stepped through named
phases in step, let go at one wall-clock instant.

A `PhaseGate` is handed to every child (processes come from the `multiprocess`
package, spawn, so a child starts with nothing of the parent but its
arguments). The child reports `started`; for each phase, it waits until the
parent opens it, does that phase's work and reports it done; then it reads the
release instant and sleeps until then. The parent opens a phase only once every
child reported the one before, so no child's work of one phase (opening
connections, say) waits on another child still starting up.

`release_together` is the plain case: no phases, one result per child.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from typing import Any

import multiprocess

READY_TIMEOUT_S = 60.0
# Time between the last child reporting and the release: every child has read
# the instant and is sleeping until it by then.
START_LEAD_S = 0.5
STARTED = "started"


class ReleaseError(RuntimeError):
    pass


class PhaseGate:
    def __init__(self, context: Any, phases: Sequence[str] = ()) -> None:
        self.phases = tuple(phases)
        self._reports = context.Queue()
        self._open = {name: context.Event() for name in (*self.phases, "release")}
        self._release_ns = context.Value("q", 0, lock=False)  # written once, before "release"

    # -- in a child ---------------------------------------------------------------------
    def report(self, child: int, phase: str, detail: Any = None) -> None:
        self._reports.put((child, phase, detail))

    def wait(self, phase: str, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """Block until the parent opens `phase` ("release" included)."""
        return bool(self._open[phase].wait(timeout_s))

    def release_ns(self, timeout_s: float = READY_TIMEOUT_S) -> int | None:
        """The release instant (wall clock, ns), once the parent set it; None on timeout."""
        if not self.wait("release", timeout_s):
            return None
        return int(self._release_ns.value)

    # -- in the parent ------------------------------------------------------------------
    def collect(self, phase: str, children: Sequence[Any]) -> list[Any]:
        """Every child's report of `phase`, by child index; fails on a dead child
        or after READY_TIMEOUT_S."""
        details: dict[int, Any] = {}
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(details) < len(children):
            if time.monotonic() > deadline:
                raise ReleaseError(
                    f"{len(children) - len(details)} client processes did not report "
                    f"{phase!r} within {READY_TIMEOUT_S:g} s"
                )
            try:
                child, reported, detail = self._reports.get(timeout=0.2)
            except queue.Empty:
                dead = [c.name for c in children if c.exitcode not in (None, 0)]
                if dead:
                    raise ReleaseError(f"client processes died: {dead}") from None
                continue
            if reported != phase:
                raise ReleaseError(f"client {child} reported {reported!r} during {phase!r}")
            details[child] = detail
        return [details[index] for index in sorted(details)]

    def step(self, phase: str, children: Sequence[Any]) -> list[Any]:
        """Open `phase` and wait until every child reported it done."""
        self._open[phase].set()
        return self.collect(phase, children)

    def release(self, lead_s: float = START_LEAD_S) -> int:
        """Let every child go at `lead_s` from now; the instant, wall clock ns."""
        return self.release_at(time.time_ns() + int(lead_s * 1e9))

    def release_at(self, instant_ns: int) -> int:
        """Let every child go at `instant_ns` (wall clock ns), set beforehand: a run that
        times what it sets up (a sale's start) from the release picks the instant first."""
        self._release_ns.value = instant_ns
        self._open["release"].set()
        return instant_ns


def release_together(
    target: Callable[..., None],
    args_per_child: Sequence[tuple[Any, ...]],
    *,
    work_timeout_s: float,
    what: str,
    lead_s: float = START_LEAD_S,
) -> list[Any]:
    """Run one child per argument tuple as `target(index, *args, gate, results)`; the
    child reports STARTED, reads `gate.release_ns()`, sleeps until then, works and
    puts its one result on `results`. Their results, in the order they finish."""
    context = multiprocess.get_context("spawn")
    gate, results = PhaseGate(context), context.Queue()
    children = [
        context.Process(target=target, args=(index, *args, gate, results), daemon=True)
        for index, args in enumerate(args_per_child)
    ]
    for child in children:
        child.start()
    try:
        gate.collect(STARTED, children)
        gate.release(lead_s)
        return [results.get(timeout=lead_s + work_timeout_s) for _ in children]
    except queue.Empty:
        raise RuntimeError(f"{what} client processes did not answer in time") from None
    except ReleaseError as exc:
        raise RuntimeError(f"{what}: {exc}") from None
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()
