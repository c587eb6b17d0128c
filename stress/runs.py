"""What every run sets up first: an id that keeps its user ids apart from an earlier
run's, and room for the thousands of connections one client process may hold."""

from __future__ import annotations

import resource
import secrets


def new_run_id() -> str:
    """A short random prefix so user ids never collide with an earlier run's."""
    return secrets.token_hex(3)


def raise_nofile_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; return the new soft limit.

    Each simulated shopper holds its own connection, so one client process may
    need thousands of descriptors.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
