"""The service's HTTP API as the toolkit speaks it: its paths, the purchase answers
that end a shopper's attempts, the bearer header, and the values answers carry
(times, ids, Retry-After). No I/O and no dependency: cheap to import in a client
process."""

from __future__ import annotations

from datetime import UTC, datetime

PURCHASE_PATH = "/flash-sale/purchase"
STATUS_PATH = "/flash-sale/status"
EVENTS_PATH = "/flash-sale/events"
METRICS_PATH = "/flash-sale/metrics"
HEALTH_PATH = "/flash-sale/health"
ADMIN_SALES_PATH = "/flash-sale/admin/sales"
# The toolkit's sale replaces whatever sale is current (RFC 9110 If-Match: any
# version of it), as an operator who starts over does; without it, a sale still in
# progress would refuse it (409).
REPLACE_CURRENT_SALE = {"If-Match": "*"}

JSON_HEADERS = {"Content-Type": "application/json"}

FINAL_PURCHASE_STATUSES = frozenset({"confirmed", "already_purchased", "sold_out", "ended"})


def bearer(token: str) -> dict[str, str]:
    """The header of a signed shopper (jwt mode) or of an admin or operator token."""
    return {"Authorization": f"Bearer {token}"}


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
