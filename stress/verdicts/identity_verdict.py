"""The verdict's checks of jwt mode: tokens accepted, none buying as another id.

Bots are the users whose body named another shopper's id on some attempt
(stress.scenarios.plans); what their attempts were answered tells whether a token
could act for someone else. Checks are (name, passed, detail), as
stress.verdicts.verdict's Check takes them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from stress.records import Record

SALE_NOT_OPEN = frozenset({"not_started", "ended"})  # statuses of a 403 about the sale


def identity_counts(
    by_user: dict[str, list[Record]], orders_by_user: Mapping[str, Collection[str]]
) -> dict[str, int]:
    """jwt mode: what the tokens were answered. Bots are the users whose body named
    another shopper's id on some attempt (stress.scenarios.plans)."""
    purchases = [r for attempts in by_user.values() for r in attempts]
    claiming = [r for r in purchases if r.claimed_as]
    bots = {r.user for r in claiming}
    # 403 "Not your id" has no sale status; a 403 with one is the sale not being open.
    refused = sum(1 for r in claiming if r.http == 403 and r.status not in SALE_NOT_OPEN)
    otherwise = sum(
        1 for r in claiming if r.http in (429, 503) or (r.http == 403 and r.status in SALE_NOT_OPEN)
    )
    unanswered = sum(1 for r in claiming if r.http == 0)
    return {
        "tokensRefused": sum(1 for r in purchases if r.http == 401),
        "attemptsAsAnotherId": len(claiming),
        "refusedAsAnotherId": refused,
        "limitedAsAnotherId": otherwise,
        "unansweredAsAnotherId": unanswered,
        # Anything else is a server that let a token act for someone else.
        "acceptedAsAnotherId": len(claiming) - refused - otherwise - unanswered,
        "botTokens": len(bots),
        "mostOrdersOfABotToken": max((len(orders_by_user.get(b, ())) for b in bots), default=0),
    }


def identity_checks(identity: dict[str, int], per_user_limit: int) -> list[tuple[str, bool, str]]:
    checks = [
        (
            "every token accepted (no 401)",
            identity["tokensRefused"] == 0,
            f"{identity['tokensRefused']} purchases answered 401 invalid token",
        )
    ]
    if not identity["botTokens"]:
        return checks
    checks.append(
        (
            "no token buys as another id",
            identity["acceptedAsAnotherId"] == 0,
            f"{identity['attemptsAsAnotherId']} bot attempts named another shopper's id: "
            f"{identity['refusedAsAnotherId']} refused as another id (403), "
            f"{identity['limitedAsAnotherId']} rate limited, shed or sale not open, "
            f"{identity['unansweredAsAnotherId']} unanswered, "
            f"{identity['acceptedAsAnotherId']} answered otherwise",
        )
    )
    most = identity["mostOrdersOfABotToken"]
    checks.append(
        (
            f"no bot token owns more than the per-user limit ({per_user_limit})",
            most <= per_user_limit,
            f"{identity['botTokens']} bot tokens, each trying again and again; "
            f"the most orders one holds: {most}",
        )
    )
    return checks
