"""The service's HTTP API as the toolkit speaks it: its paths, the purchase answers
that end a shopper's attempts, the bearer header, and the values answers carry
(times, ids, Retry-After). No I/O and no dependency: cheap to import in a client
process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PURCHASE_PATH = "/flash-sale/purchase"
STATUS_PATH = "/flash-sale/status"
EVENTS_PATH = "/flash-sale/events"
METRICS_PATH = "/flash-sale/metrics"
HEALTH_PATH = "/flash-sale/health"
ADMIN_SALES_PATH = "/flash-sale/admin/sales"
AUDIT_PATH = "/flash-sale/admin/audit"
# The toolkit's sale replaces whatever sale is current (RFC 9110 If-Match: any
# version of it), as an operator who starts over does; without it, a sale still in
# progress would refuse it (409).
REPLACE_CURRENT_SALE = {"If-Match": "*"}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

JSON_HEADERS = {"Content-Type": "application/json"}

FINAL_PURCHASE_STATUSES = frozenset({"confirmed", "already_purchased", "sold_out", "ended"})
# The operator paused the sale (503 with Retry-After): nothing was decided, come back later.
OUTCOME_PAUSED = "paused"


def sale_path(sale_id: str) -> str:
    """The admin API's sale resource (PATCH pauses and resumes it)."""
    return f"{ADMIN_SALES_PATH}/{sale_id}"


def orders_path(sale_id: str) -> str:
    """The server's record of a sale's orders, paged in position order."""
    return f"{ADMIN_SALES_PATH}/{sale_id}/orders"


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


def iso_to_ms(value: object) -> int | None:
    """An API time as exact integer milliseconds since the epoch (the server writes
    milliseconds, truncated): no float rounding, so instants compare exactly."""
    moment = parse_iso(value)
    if moment is None:
        return None
    return (moment - EPOCH) // timedelta(milliseconds=1)


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


# The waiting room (issue 25): joining, reading a ticket, and the header a purchase
# carries its ticket in.
QUEUE_PATH = "/flash-sale/queue"
TICKET_HEADER = "Flash-Sale-Ticket"


def queue_audit_path(sale_id: str) -> str:
    """The operators' record of a sale's queue, paged by place."""
    return f"{ADMIN_SALES_PATH}/{sale_id}/queue"
