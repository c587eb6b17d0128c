"""What each simulated shopper does in a scenario: a plan per user.

A plan says when the shopper arrives (an offset from the common release instant),
how many purchase attempts it may make and how it behaves between them. The
client processes only execute plans; every scenario is defined here.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass
from typing import Any

SCENARIOS = ("burst", "bots", "ramp", "soak", "prestart")

# A shopper that is told to come back later (429/503 with Retry-After) waits at most
# this long, so that every run stays bounded in time.
MAX_RETRY_WAIT_S = 5.0
# Pause between attempts of a shopper told "not started" in the prestart scenario:
# a person pressing Buy again as soon as the countdown reaches zero.
NOT_STARTED_RETRY_S = 0.1


@dataclass(frozen=True, slots=True)
class UserPlan:
    user: str
    offset_s: float = 0.0  # arrival, seconds after the release instant
    attempts: int = 1  # upper bound on purchase requests
    gap_s: float = 0.0  # pause between two attempts
    honour_retry_after: bool = True  # a browser waits; a bot does not
    persistent: bool = False  # keeps buying after a final answer (a bot)
    wait_for_start: bool = False  # polls the status and fires at the sale's start
    # jwt mode: the shopper's signed token (the server's buyer is its `sub`, the
    # user above), and other shoppers' ids a bot names in the body on every other
    # attempt, which the server must refuse (403).
    token: str | None = None
    claims: tuple[str, ...] = ()
    # The product every attempt asks for ("sku" in the body); None: no sku sent,
    # as to a sale of one product (stress.scenarios.products draws it).
    sku: str | None = None
    # The hosts the shopper buys on, by index into the run's URLs (stress.scenarios.hosts):
    # one, or two at once; (0,) with a single host.
    hosts: tuple[int, ...] = (0,)

    def to_row(self) -> tuple[Any, ...]:
        return astuple(self)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> UserPlan:
        return cls(*row)


@dataclass(frozen=True, slots=True)
class ScenarioOptions:
    scenario: str = "burst"
    users: int = 5000
    max_retries: int = 2  # extra attempts after a 503 "unavailable" (with Retry-After)
    bots: int = 50
    bot_attempts: int = 30
    duration_s: float = 60.0  # ramp and soak: time over which users arrive
    start_attempts: int = 30  # prestart: attempts while the answer is "not started"
    # bots, jwt mode: every other attempt names another shopper's id in the body
    bots_claim_others: bool = False


def build_plans(options: ScenarioOptions, run_id: str) -> list[UserPlan]:
    """Plans for every user of a scenario, ordered by arrival."""
    name = options.scenario
    users = options.users
    retrying = 1 + max(0, options.max_retries)
    if name == "burst":
        return [UserPlan(_user(run_id, "u", i), attempts=retrying) for i in range(users)]
    if name == "bots":
        bots = min(options.bots, users)
        plans = [
            UserPlan(
                _user(run_id, "bot", i),
                attempts=options.bot_attempts,
                honour_retry_after=False,
                persistent=True,
                claims=_others(run_id, i, bots, users) if options.bots_claim_others else (),
            )
            for i in range(bots)
        ]
        plans += [UserPlan(_user(run_id, "u", i), attempts=retrying) for i in range(users - bots)]
        return plans
    if name == "ramp":
        # Arrival rate grows linearly from zero to 2 * users / duration: the i-th
        # arrival is at duration * sqrt(i / users).
        return [
            UserPlan(
                _user(run_id, "u", i),
                offset_s=options.duration_s * math.sqrt(i / users),
                attempts=retrying,
            )
            for i in range(users)
        ]
    if name == "soak":
        return [
            UserPlan(
                _user(run_id, "u", i),
                offset_s=options.duration_s * i / users,
                attempts=retrying,
            )
            for i in range(users)
        ]
    if name == "prestart":
        return [
            UserPlan(
                _user(run_id, "u", i),
                attempts=options.start_attempts,
                gap_s=NOT_STARTED_RETRY_S,
                wait_for_start=True,
            )
            for i in range(users)
        ]
    raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")


def _others(run_id: str, bot: int, bots: int, users: int) -> tuple[str, ...]:
    """Ids bot `bot` claims besides its own: an ordinary shopper of the run (one
    who buys too, so a sale made to the wrong id would show in the look-ups) and
    the next bot; an id nobody holds when the run has neither."""
    others = []
    if users > bots:
        others.append(_user(run_id, "u", bot % (users - bots)))
    if bots > 1:
        others.append(_user(run_id, "bot", (bot + 1) % bots))
    return tuple(others) or (_user(run_id, "nobody", 0),)


def _user(run_id: str, kind: str, index: int) -> str:
    return f"{run_id}-{kind}{index}"
