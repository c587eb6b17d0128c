"""How a flash run judged by a verdict (the checkout and waiting-room runs) is run from
the command line: its report printed, written when asked, and its exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar


class Judged(Protocol):
    @property
    def ok(self) -> bool: ...


R = TypeVar("R", bound=Judged)


def run_judged(
    run: Callable[[], R],
    url: str,
    report_dir: Path | None,
    formatted: Callable[[R], str],
    write_report: Callable[[Path, R], None],
) -> int:
    """0 when the verdict passed, 1 when it failed, 2 when the server could not be run
    against (nothing judged)."""
    import requests

    from stress.api_client import ApiError

    try:
        result = run()
    except (ApiError, requests.RequestException, OSError) as exc:
        print(f"stress flash: cannot run against {url}: {exc}", file=sys.stderr)
        return 2
    print(formatted(result))
    if report_dir:
        write_report(report_dir, result)
        print(f"\nreport: {report_dir / 'report.html'}")
    return 0 if result.ok else 1
