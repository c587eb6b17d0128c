"""Who does what, and when, in a waiting-room run (`python -m stress flash --queue`): the
options, and the plans drawn from them with a seed (the same seed, the same plans).

Times are seconds after the release instant; the sale starts `prequeue_s` after it, and
its pre-queue is open from the sale's creation (opensAt null), just before the release.
- people: a `prequeue_share` of them join at spread instants before the start (from
  PREQUEUE_FIRST_S to PREQUEUE_MARGIN_S before it), the others after it (from
  LATER_FIRST_S to `later_s` after it); a `tab_share` of them open 2..`max_tabs` tabs:
  each other tab at the same instant as the first, a little later, or after the start;
- queue-skippers, a third each: no_ticket (buys with no ticket, from a moment after the
  start), forged (joins after the start, then buys with its ticket altered, or with
  random characters), stolen (presents the ticket of a pre-queue person of its own
  process the moment that person is admitted; the person waits ROBBED_DELAY_S first);
- `replays` buyers (the first of each process) present their used ticket once more.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from stress.client.queue_shopper import PersonPlan, ProcessPlan, SkipperPlan

PREQUEUE_FIRST_S = 0.2
PREQUEUE_MARGIN_S = 0.5
LATER_FIRST_S = 0.3
ROBBED_DELAY_S = 1.5
SKIPPER_KINDS = ("no_ticket", "forged", "stolen")
# After the last admission the run still waits this long for the last purchases.
SETTLE_S = 30.0


@dataclass(frozen=True)
class QueueOptions:
    url: str
    admin_token: str
    people: int = 2000
    stock: int = 100
    admit_per_minute: int | None = 600
    admitted_s: int = 120
    prequeue_s: float = 10.0
    later_s: float = 10.0
    prequeue_share: float = 0.6
    tab_share: float = 0.25
    max_tabs: int = 3
    skippers: int = 30
    skipper_attempts: int = 4
    replays: int = 10
    processes: int = 4
    seed: int = 1
    status_poll_s: float = 0.25
    ticket_poll_s: float = 15.0
    timeout_s: float = 30.0
    confidence: float = 0.95
    resamples: int = 2000
    max_run_s: float = 600.0
    progress: bool = True


def refused(options: QueueOptions) -> str | None:
    """What is wrong with the options, if anything (one line)."""
    if options.people < 1 or options.stock < 1:
        return "--users and --stock are 1 at least"
    if options.prequeue_s < PREQUEUE_FIRST_S + PREQUEUE_MARGIN_S + 0.5:
        return "--prequeue-seconds is 1.2 at least (the joins spread before the start)"
    if options.later_s < LATER_FIRST_S + 0.2:
        return "--later-seconds is 0.5 at least"
    if not 0 <= options.prequeue_share <= 1 or not 0 <= options.tab_share <= 1:
        return "--prequeue-share and --tab-share are between 0 and 1"
    if options.max_tabs < 1:
        return "--max-tabs is 1 at least"
    if options.admit_per_minute is not None and options.admit_per_minute < 1:
        return "--admit-per-minute is 1 at least"
    if options.processes < 1:
        return "--processes is 1 at least"
    return None


def deadline_s(options: QueueOptions) -> float:
    """Seconds from the release by which every person is admitted or told closed."""
    admitted = min(options.stock + options.skippers, options.people + options.skippers)
    rate = options.admit_per_minute
    admitting_s = 0.0 if rate is None else admitted / rate * 60
    last_join_s = options.prequeue_s + options.later_s
    busy_s = max(last_join_s, options.prequeue_s + admitting_s)
    return min(busy_s + SETTLE_S + options.ticket_poll_s, options.max_run_s)


def process_plans(options: QueueOptions, run_id: str, host: str, port: int) -> list[ProcessPlan]:
    rng = random.Random(options.seed)
    processes = max(1, min(options.processes, options.people))
    people = _people(options, run_id, rng)
    shares: list[list[PersonPlan]] = [people[i::processes] for i in range(processes)]
    skippers: list[list[SkipperPlan]] = [[] for _ in range(processes)]
    robbed: set[str] = set()
    for n in range(options.skippers):
        kind = SKIPPER_KINDS[n % len(SKIPPER_KINDS)]
        index = n % processes
        user = f"{run_id}-k{n:04d}-{kind}"
        at_s = rng.uniform(0, options.later_s)
        victim = None
        if kind == "stolen":
            victim = _pick(shares[index], options.prequeue_s, robbed, ROBBED_DELAY_S)
        skippers[index].append(SkipperPlan(user, kind, at_s, options.skipper_attempts, victim))
    return [
        ProcessPlan(
            host=host,
            port=port,
            starts_at_s=options.prequeue_s,
            deadline_s=deadline_s(options),
            status_poll_s=options.status_poll_s,
            ticket_poll_s=options.ticket_poll_s,
            timeout_s=options.timeout_s,
            seed=options.seed,
            people=tuple(shares[index]),
            skippers=tuple(skippers[index]),
            replays=options.replays // processes + (index < options.replays % processes),
            samples=index == 0,
        )
        for index in range(processes)
    ]


def _people(options: QueueOptions, run_id: str, rng: random.Random) -> list[PersonPlan]:
    start = options.prequeue_s
    early = round(options.people * options.prequeue_share)
    people = []
    for n in range(options.people):
        if n < early:
            join_s = rng.uniform(PREQUEUE_FIRST_S, start - PREQUEUE_MARGIN_S)
        else:
            join_s = start + rng.uniform(LATER_FIRST_S, options.later_s)
        tabs: tuple[float, ...] = ()
        if options.max_tabs > 1 and rng.random() < options.tab_share:
            tabs = tuple(
                _other_tab(join_s, start, options.later_s, rng)
                for _ in range(rng.randint(1, options.max_tabs - 1))
            )
        people.append(PersonPlan(f"{run_id}-p{n:05d}", join_s, tabs))
    return people


def _other_tab(join_s: float, start_s: float, later_s: float, rng: random.Random) -> float:
    """Another tab of a person: with its first one, a little later, or after the start."""
    draw = rng.randrange(3)
    if draw == 0:
        return join_s
    if draw == 1:
        return join_s + rng.uniform(0.1, 2.0)
    return max(join_s, start_s) + rng.uniform(0.5, max(0.6, later_s / 2))


def _pick(share: list[PersonPlan], start_s: float, taken: set[str], delay_s: float) -> str | None:
    """A pre-queue person of this process not robbed yet, made to wait before buying."""
    for index, person in enumerate(share):
        if person.join_s < start_s and person.user not in taken:
            taken.add(person.user)
            share[index] = replace(person, buy_delay_s=delay_s)
            return person.user
    return None
