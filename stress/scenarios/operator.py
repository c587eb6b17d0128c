"""The operator of a flash run with `--pause-at` and `--resume-after`: on a thread of
its own, it pauses the sale (PATCH `{"state": "paused"}`) that many seconds after
the release instant and resumes it (`{"state": "open"}`) the given time after the
pause was answered, recording each call (stress.records.AdminCall).

The pause is timed from the release the load's parent sets (stress.client.load's
`on_release`), on the same wall clock as the shoppers' records; what the verdict
compares orders with is the server's own record of the pause, not these times.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests

from stress.api_client import Api, ApiError
from stress.records import AdminCall

PAUSE, RESUME = "pause", "resume"
BODIES = {PAUSE: {"state": "paused"}, RESUME: {"state": "open"}}
# After the load ends, the operator's last call still has this long to be answered.
JOIN_GRACE_S = 15.0


@dataclass(frozen=True, slots=True)
class PausePlan:
    pause_at_s: float  # after the release instant
    resume_after_s: float  # after the pause was answered

    @property
    def span_s(self) -> float:
        """How far past the release the operator's calls reach (bounds the run)."""
        return self.pause_at_s + self.resume_after_s


class Operator:
    """Pauses and resumes one sale at the planned offsets from the release."""

    def __init__(self, url: str, admin_token: str, sale_id: str, plan: PausePlan) -> None:
        self.url = url
        self.admin_token = admin_token
        self.sale_id = sale_id
        self.plan = plan
        self.calls: list[AdminCall] = []
        self._cancelled = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, release_ns: int) -> None:
        """Called with the release instant; returns at once."""
        self._thread = threading.Thread(
            target=self._run, args=(release_ns,), name="stress-operator", daemon=True
        )
        self._thread.start()

    def finish(self) -> list[AdminCall]:
        """Wait for the planned calls (the load is over by now) and give them; a run that
        stopped early cancels the calls not made yet."""
        if self._thread is not None:
            self._thread.join(timeout=self.plan.span_s + JOIN_GRACE_S)
            self._cancelled.set()
            self._thread.join(timeout=JOIN_GRACE_S)
        return list(self.calls)

    def cancel(self) -> None:
        self._cancelled.set()

    def _run(self, release_ns: int) -> None:
        api = Api(self.url, self.admin_token)
        try:
            pause_ns = release_ns + int(self.plan.pause_at_s * 1e9)
            paused = self._call(api, PAUSE, pause_ns)
            if paused is None:
                return
            resume_ns = (paused.answered_ns or pause_ns) + int(self.plan.resume_after_s * 1e9)
            self._call(api, RESUME, resume_ns)
        finally:
            api.close()

    def _call(self, api: Api, action: str, at_ns: int) -> AdminCall | None:
        """One PATCH at `at_ns`; None when the run was cancelled before it."""
        if self._cancelled.wait(max(0.0, (at_ns - time.time_ns()) / 1e9)):
            return None
        call = AdminCall(action, planned_ns=at_ns, sent_ns=time.time_ns())
        try:
            status, body = api.change_sale(self.sale_id, BODIES[action])
        except (ApiError, requests.RequestException) as exc:
            call.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        else:
            call.http = status
            state, paused_at, version = body.get("state"), body.get("pausedAt"), body.get("version")
            call.state = state if isinstance(state, str) else None
            call.paused_at = paused_at if isinstance(paused_at, str) else None
            call.version = version if isinstance(version, int) else None
            if status != 200:
                call.error = f"{status}: {body.get('title') or body.get('detail') or ''}"
        call.answered_ns = time.time_ns()
        self.calls.append(call)
        return call
