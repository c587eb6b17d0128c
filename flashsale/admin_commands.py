"""The operator's commands, as a worker sends them to the allocator, and the allocator's
answers: plain data, JSON on the wire (flashsale.allocator.messages frames them).

A command is one of: create a sale (`CreateSale`, which may replace the current
one), change the current sale (`ChangeSale`: pause, resume, end, set its end),
or only record a refusal a worker decided itself (`RecordRefusal`: a 400, a
wrong token, an unknown path's sale). Each carries the `AuditContext` of the
request: the allocator (or Redis) appends it to the audit trail in the same
transaction as the change it records. The context never holds a token: only
which kind was presented and the first 8 hex digits of its SHA-256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flashsale.catalogue import Product
from flashsale.records import CheckoutTerms, Lifecycle, Phase, QueueTerms, SaleRecord, SaleTerms
from flashsale.sale_lifecycle import Change

# What the trail keeps of a request's body.
AUDIT_BODY_MAX_BYTES = 4096

CREATE, REPLACE, REFUSED = "create", "replace", "refused"


@dataclass(frozen=True)
class AuditContext:
    """Who asked what: the request as the audit trail records it."""

    method: str
    path: str
    body: str  # as sent, at most AUDIT_BODY_MAX_BYTES of it, tokens redacted
    body_truncated: bool
    address: str  # the client's, parsed (behind a trusted proxy: the one it forwards)
    token: str  # "admin:<8 hex of its SHA-256>", or "none"
    if_match: str | None = None
    idempotency_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "bodyTruncated": self.body_truncated,
            "address": self.address,
            "token": self.token,
            "ifMatch": self.if_match,
            "idempotencyKey": self.idempotency_key,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> AuditContext:
        return cls(
            value["method"],
            value["path"],
            value["body"],
            value["bodyTruncated"],
            value["address"],
            value["token"],
            value.get("ifMatch"),
            value.get("idempotencyKey"),
        )


@dataclass(frozen=True)
class CreateSale:
    terms: SaleTerms
    replaces: int | None = None
    if_match: tuple[str, ...] | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None  # SHA-256 (hex) of the body's canonical JSON


@dataclass(frozen=True)
class ChangeSale:
    sale_id: int
    change: Change
    if_match: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RecordRefusal:
    """A refusal the worker decided: appended to the trail, nothing else."""

    status: int
    problem: str  # a slug of flashsale.api.problems
    sale_id: int | None = None
    attempted: str | None = None  # the action it would have been, when known


Command = CreateSale | ChangeSale | RecordRefusal


@dataclass(frozen=True)
class AdminRequest:
    command: Command
    context: AuditContext

    def encode(self) -> bytes:
        return json.dumps(
            {"command": _command_json(self.command), "context": self.context.to_json()},
            ensure_ascii=False,
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> AdminRequest:
        value = json.loads(body)
        return cls(_command_of(value["command"]), AuditContext.from_json(value["context"]))


def attempted_action(command: Command) -> str | None:
    """The action a command is, as the trail names it (`create` for any creation)."""
    if isinstance(command, CreateSale):
        return CREATE
    if isinstance(command, ChangeSale):
        return command.change.action
    return command.attempted


def _tags(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _command_json(command: Command) -> dict[str, Any]:
    if isinstance(command, CreateSale):
        return {
            "kind": "create",
            "terms": command.terms.spec_json(),
            "replaces": command.replaces,
            "ifMatch": command.if_match,
            "idempotencyKey": command.idempotency_key,
            "fingerprint": command.fingerprint,
        }
    if isinstance(command, ChangeSale):
        return {
            "kind": "change",
            "saleId": command.sale_id,
            "action": command.change.action,
            "endsAtUs": command.change.ends_at_us,
            "ifMatch": command.if_match,
        }
    return {
        "kind": "refusal",
        "status": command.status,
        "problem": command.problem,
        "saleId": command.sale_id,
        "attempted": command.attempted,
    }


def _command_of(value: dict[str, Any]) -> Command:
    kind = value["kind"]
    if kind == "create":
        return CreateSale(
            SaleTerms.from_spec(value["terms"]),
            value["replaces"],
            _tags(value["ifMatch"]),
            value["idempotencyKey"],
            value["fingerprint"],
        )
    if kind == "change":
        return ChangeSale(
            value["saleId"], Change(value["action"], value["endsAtUs"]), _tags(value["ifMatch"])
        )
    return RecordRefusal(value["status"], value["problem"], value["saleId"], value["attempted"])


@dataclass(frozen=True)
class AdminAnswer:
    """The allocator's answer: done (`problem` None) or refused, and the sale it shows.

    `sale` with `sold` (by sku, "" for the whole sale) at `at_us` is what the
    answer's body shows: a new sale as it was created (also when a retry with
    its idempotency key replays it), a changed one as the change left it.
    """

    status: int
    problem: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)
    sale: SaleRecord | None = None
    sold: dict[str, int] = field(default_factory=dict)
    at_us: int = 0
    replayed: bool = False

    def encode(self) -> bytes:
        return json.dumps(
            {
                "status": self.status,
                "problem": self.problem,
                "extensions": self.extensions,
                "sale": None if self.sale is None else sale_record_json(self.sale),
                "sold": self.sold,
                "atUs": self.at_us,
                "replayed": self.replayed,
            },
            ensure_ascii=False,
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> AdminAnswer:
        value = json.loads(body)
        sale = value["sale"]
        return cls(
            value["status"],
            value["problem"],
            value["extensions"],
            None if sale is None else sale_record_of(sale),
            value["sold"],
            value["atUs"],
            value["replayed"],
        )


def sale_record_json(sale: SaleRecord) -> dict[str, Any]:
    lifecycle = sale.lifecycle
    return {
        "saleId": sale.sale_id,
        "stock": sale.stock,
        **sale.terms.spec_json(),
        "createdAtUs": sale.created_at_us,
        "phase": lifecycle.phase.word,
        "version": lifecycle.version,
        "pausedAtUs": lifecycle.paused_at_us,
        "endedAtUs": lifecycle.ended_at_us,
    }


def sale_record_of(value: dict[str, Any]) -> SaleRecord:
    terms = SaleTerms(
        tuple(Product.from_spec(product) for product in value["products"]),
        value["perUserLimit"],
        value["startsAtUs"],
        value["endsAtUs"],
        CheckoutTerms.from_spec(value.get("checkout")),
        QueueTerms.from_spec(value.get("queue")),
    )
    lifecycle = Lifecycle(
        Phase.of_word(value["phase"]), value["version"], value["pausedAtUs"], value["endedAtUs"]
    )
    return SaleRecord(value["saleId"], value["stock"], terms, value["createdAtUs"], lifecycle)
