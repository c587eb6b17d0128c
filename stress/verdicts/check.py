"""A check of the verdict: its name, whether it held, and a detail line with examples."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def examples(items: Iterable[object], most: int = 5) -> str:
    """A check's examples: ': a, b, c (+N more)', or '' when there are none."""
    shown = [str(item) for item in items]
    if not shown:
        return ""
    more = f" (+{len(shown) - most} more)" if len(shown) > most else ""
    return ": " + ", ".join(shown[:most]) + more
