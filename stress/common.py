"""Shared code of the stress toolkit: the per-request record, the API client,
process limits and small numeric helpers.

Everything here is safe to import in a client process (no global state, no
threads started at import).
"""

from __future__ import annotations

import json
import math
import os
import resource
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

import requests

PURCHASE_PATH = "/flash-sale/purchase"
STATUS_PATH = "/flash-sale/status"
EVENTS_PATH = "/flash-sale/events"
METRICS_PATH = "/flash-sale/metrics"
HEALTH_PATH = "/flash-sale/health"
ADMIN_SALE_PATH = "/flash-sale/admin/sale"

API_TIMEOUT_S = 10.0
JSON_HEADERS = {"Content-Type": "application/json"}

# Outcome names used in figures and charts: the JSON `status` of an answer when it
# has one, else `http_<code>`, else `error` for a request that got no answer.
OUTCOME_ERROR = "error"
# A purchase lost with a kept-alive connection the server had just closed (idle
# keep-alive timeout), sent again at once on a new connection, as browsers do.
OUTCOME_RESENT = "resent"
FINAL_PURCHASE_STATUSES = frozenset({"confirmed", "already_purchased", "sold_out", "ended"})


@dataclass(slots=True)
class Record:
    """One request a simulated shopper sent, and what came back.

    Times are wall-clock nanoseconds (`time.time_ns()`) so that records from
    different client processes on the same host share one time axis; latency is
    measured with the monotonic clock.
    """

    user: str
    kind: str  # "purchase" | "status" | "lookup"
    attempt: int
    send_ns: int
    latency_ns: int
    http: int  # 0 when no answer came back
    status: str  # the answer's `outcome` (a purchase's) or `state` (a status read), "" when none
    position: int | None = None
    order_id: str | None = None
    sale_id: str | None = None
    retry_after_s: float | None = None
    error: str = ""
    written_ns: int = 0  # wall clock once the request's bytes were written; 0 if unknown
    # jwt mode: the other shopper's id a bot's body named (the server must answer 403);
    # "" when the request claimed the shopper's own id or none.
    claimed_as: str = ""
    # The product the body asked for ("" for none: a sale of one product), and the
    # one the answer named (a 201's, a 409's held order, a 410's; None when none).
    asked_sku: str = ""
    sku: str | None = None
    # Which of the run's hosts (`flash --url A --url B`) the request went to, by its
    # place on the command line; 0 with a single host.
    host: int = 0

    @property
    def answer_ns(self) -> int:
        return self.send_ns + self.latency_ns

    @property
    def arrived_by_ns(self) -> int:
        """A moment by which the request had certainly reached the server's socket."""
        return self.written_ns or self.answer_ns

    @property
    def outcome(self) -> str:
        if self.http == 0:
            return OUTCOME_RESENT if self.status == OUTCOME_RESENT else OUTCOME_ERROR
        return self.status or f"http_{self.http}"

    def to_row(self) -> tuple[Any, ...]:
        """Compact tuple for crossing a process boundary."""
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Record:
        return cls(*row)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bearer(token: str) -> dict[str, str]:
    """The header of a signed shopper (jwt mode) or of an admin or operator token."""
    return {"Authorization": f"Bearer {token}"}


def new_run_id() -> str:
    """A short random prefix so user ids never collide with an earlier run's."""
    return secrets.token_hex(3)


def parse_iso(value: object) -> datetime | None:
    """An ISO 8601 time from the API (naive times are taken as UTC); None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso_to_ns(value: object) -> int | None:
    moment = parse_iso(value)
    return None if moment is None else int(moment.timestamp() * 1e9)


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


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary_ms(latencies_ns: Iterable[int]) -> dict[str, float | int | None]:
    values = sorted(v / 1e6 for v in latencies_ns)
    return {
        "count": len(values),
        "p50": _round(percentile(values, 0.50)),
        "p95": _round(percentile(values, 0.95)),
        "p99": _round(percentile(values, 0.99)),
        "max": _round(values[-1] if values else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def str_or_none(value: object) -> str | None:
    """Ids as text: the API may give a sale id as a number."""
    return None if value is None else str(value)


def decode_json(answer: requests.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def new_session() -> requests.Session:
    """A session for loopback load: no proxy or netrc look-up per request, which
    costs a third of requests' CPU time per call and changes nothing on 127.0.0.1."""
    session = requests.Session()
    session.trust_env = False
    return session


class ApiError(RuntimeError):
    """The server answered an API call of the toolkit itself unexpectedly."""


class Api:
    """The toolkit's own calls to the service (not the shoppers' traffic)."""

    def __init__(self, base_url: str, admin_token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self.session = new_session()
        # A server with an operator token shows its figures only with it: the
        # toolkit takes it from the same variable the server reads.
        operator_token = os.environ.get("FLASHSALE_OPERATOR_TOKEN")
        self._operator = {"Authorization": f"Bearer {operator_token}"} if operator_token else {}

    def close(self) -> None:
        self.session.close()

    def _get_json(self, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        answer = self.session.get(self.base_url + path, headers=headers, timeout=API_TIMEOUT_S)
        if answer.status_code != 200:
            raise ApiError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        return decode_json(answer)

    def status(self) -> dict[str, Any]:
        return self._get_json(STATUS_PATH)

    def metrics(self) -> dict[str, Any] | None:
        try:
            return self._get_json(METRICS_PATH, self._operator)
        except (ApiError, requests.RequestException):
            return None

    def health(self) -> dict[str, Any] | None:
        try:
            answer = self.session.get(
                self.base_url + HEALTH_PATH, headers=self._operator, timeout=API_TIMEOUT_S
            )
        except requests.RequestException:
            return None
        return decode_json(answer) if answer.status_code == 200 else None

    def start_sale(
        self,
        stock: int,
        per_user_limit: int = 1,
        starts_at: str | None = None,
        products: Sequence[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """A new sale of `stock` items of the default product, or of `products`
        (the admin API's product objects, each with its stock) when given."""
        if not self.admin_token:
            raise ApiError("starting a sale needs --admin-token")
        body: dict[str, Any] = {"perUserLimit": per_user_limit, "startsAt": starts_at}
        if products:
            body["products"] = list(products)
        else:
            body["stock"] = stock
        answer = self.session.post(
            self.base_url + ADMIN_SALE_PATH,
            data=json.dumps(body),
            headers={**JSON_HEADERS, "Authorization": f"Bearer {self.admin_token}"},
            timeout=API_TIMEOUT_S,
        )
        if answer.status_code not in (200, 201):
            raise ApiError(
                f"POST {ADMIN_SALE_PATH} answered {answer.status_code}: {answer.text[:300]}"
            )
        return decode_json(answer)


def examples(items: Iterable[object], most: int = 5) -> str:
    """A check's examples: ': a, b, c (+N more)', or '' when there are none."""
    shown = [str(item) for item in items]
    if not shown:
        return ""
    more = f" (+{len(shown) - most} more)" if len(shown) > most else ""
    return ": " + ", ".join(shown[:most]) + more
