"""`python -m stress flash`: run shoppers against a server and judge the sale."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from stress.commands.flash_queue import add_queue_options, cmd_queue
from stress.commands.options import (
    DEFAULT_URL,
    add_ceiling_options,
    add_load_options,
    ceiling_options,
    flash_options,
)
from stress.scenarios.products import ProductsError

if TYPE_CHECKING:
    from stress.scenarios.operator import PausePlan

# A run stays bounded: a pause, and the wait before it, of ten minutes at most.
MAX_PAUSE_S = 600.0


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    flash = commands.add_parser("flash", help="run shoppers against a server and judge the sale")
    _add_urls(flash)
    add_load_options(flash)
    flash.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write report.json, report.html and records.csv there",
    )
    flash.add_argument(
        "--ceiling",
        action="store_true",
        help="after the scenario, measure the throughput ceiling on the same server "
        "(needs --admin-token; see the ceiling options)",
    )
    _add_identity_options(flash)
    _add_pause_options(flash)
    _add_checkout_options(flash)
    add_queue_options(flash)
    add_ceiling_options(flash)
    flash.set_defaults(handler=_cmd_flash_or_checkout)


def _cmd_flash_or_checkout(args: argparse.Namespace) -> int:
    if args.queue:
        return cmd_queue(args)
    return _cmd_checkout(args) if args.hold_seconds is not None else _cmd_flash(args)


def _add_urls(parser: argparse.ArgumentParser) -> None:
    hosts = parser.add_argument_group(
        "hosts",
        "Give --url once per host of one Redis (FLASHSALE_ENGINE=redis) to spread the "
        "shoppers over them: shopper i buys on host i mod N (the order of --url). The sale "
        "is made through the first; the release waits until every host shows it; the "
        "verdict adds that every host's status agrees, every 201 is in every host's "
        "look-up and nobody holds over the limit across hosts, and prints each host's "
        "figures.",
    )
    hosts.add_argument(
        "--url",
        dest="urls",
        action="append",
        metavar="URL",
        help=f"server base URL; repeat for several hosts (default {DEFAULT_URL})",
    )
    hosts.add_argument(
        "--two-hosts-each",
        action="store_true",
        help="every shopper presses Buy on two hosts at once (hosts i mod N and i+1 mod N): "
        "two concurrent attempts of one person; needs two --url at least",
    )


def _add_identity_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "identity (a server with FLASHSALE_AUTH=jwt)",
        "With a key, every shopper holds a token of its own (sub = its id), minted before "
        "the run; purchases and look-ups (GET /flash-sale/purchase/me) send it as "
        "Authorization: Bearer. Bots also name other shoppers' ids, which must be refused.",
    )
    key = group.add_mutually_exclusive_group()
    key.add_argument("--jwt-secret", metavar="SECRET", help="sign HS256 with this shared secret")
    key.add_argument(
        "--jwt-key-file",
        type=Path,
        metavar="PEM",
        help="sign with this private key: RSA (RS256) or P-256 EC (ES256)",
    )
    group.add_argument("--jwt-kid", metavar="KID", help="the tokens' kid header (the JWKS key)")
    group.add_argument("--jwt-issuer", metavar="ISS", help="the tokens' iss claim")
    group.add_argument("--jwt-audience", metavar="AUD", help="the tokens' aud claim")


def _add_pause_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "an operator's pause (needs --admin-token)",
        "The operator PATCHes the sale to paused --pause-at seconds after the release and "
        "back to open --resume-after seconds after the pause was answered. Shoppers told "
        "'paused' (503) come back after Retry-After, as a browser does. The verdict adds: "
        "no order decided inside the paused window (the orders' purchasedAt against the "
        "pause and resume in the audit trail), every 201 an order of the server's list and "
        "every listed order answered, and the paused answers' figures.",
    )
    group.add_argument(
        "--pause-at",
        type=_seconds,
        metavar="SECONDS",
        help="pause the sale this long after the release instant",
    )
    group.add_argument(
        "--resume-after",
        type=_seconds,
        metavar="SECONDS",
        help="resume it this long after the pause (with --pause-at)",
    )


def _add_checkout_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "checkout holds (needs --admin-token)",
        "With --hold-seconds the sale is made with checkout: a winner holds its unit and "
        "waits its --pay-delay, then confirms, or abandons (--abandon-rate), or pays after "
        "its hold expired (--late-rate); sold-out shoppers join the waitlist and take an "
        "offered hold. The verdict: confirmed <= stock, held + confirmed <= stock sampled "
        "through the run, every unit ends confirmed or released, late payers refused "
        "(hold_expired, refundRequired) or given a free unit back, the waitlist served in "
        "join order, and with --webhook-receiver every webhook arrived signed, none missing. "
        "One client process (asyncio); --scenario, --products and --processes do not apply.",
    )
    group.add_argument("--hold-seconds", type=int, metavar="S", help="the sale's holdSeconds")
    group.add_argument(
        "--extend-seconds", type=int, default=0, metavar="S", help="extendSeconds (default 0)"
    )
    group.add_argument(
        "--pay-delay",
        type=_pay_delay,
        default="lognormal:median=1.5,sigma=0.6",
        metavar="DIST",
        help="how long a winner takes to pay: lognormal:median=M,sigma=S, uniform:LOW-HIGH "
        "or fixed:S (default lognormal:median=1.5,sigma=0.6)",
    )
    group.add_argument("--abandon-rate", type=_rate, default=0.33, metavar="P")
    group.add_argument("--late-rate", type=_rate, default=0.1, metavar="P")
    group.add_argument(
        "--max-run-seconds",
        type=float,
        default=300.0,
        metavar="S",
        help="stop waiting for holds to settle after this long (default 300)",
    )
    group.add_argument(
        "--webhook-receiver",
        action="store_true",
        help="run stress/servers/webhook_receiver.py on 127.0.0.1:--webhook-port with the "
        "key in FLASHSALE_WEBHOOK_SECRET; start the server with FLASHSALE_WEBHOOK_URL="
        "http://127.0.0.1:PORT/webhooks and the same FLASHSALE_WEBHOOK_SECRET",
    )
    group.add_argument("--webhook-port", type=int, default=8765, metavar="PORT")


def _pay_delay(text: str) -> object:
    from stress.scenarios.pay_delay import PayDelayError, parse_pay_delay

    try:
        return parse_pay_delay(text)
    except PayDelayError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a fraction: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"between 0 and 1, not {text}")
    return value


def _cmd_checkout(args: argparse.Namespace) -> int:
    import os

    from stress.commands.verdict_run import run_judged
    from stress.report.checkout import write_checkout_report
    from stress.scenarios.checkout import CheckoutOptions, format_checkout, run_checkout

    if not args.admin_token:
        print("stress flash: --hold-seconds needs --admin-token", file=sys.stderr)
        return 2
    if args.abandon_rate + args.late_rate > 1:
        print("stress flash: --abandon-rate + --late-rate is over 1", file=sys.stderr)
        return 2
    secret = os.environ.get("FLASHSALE_WEBHOOK_SECRET") if args.webhook_receiver else None
    if args.webhook_receiver and not secret:
        print("stress flash: --webhook-receiver needs FLASHSALE_WEBHOOK_SECRET", file=sys.stderr)
        return 2
    url = (args.urls or [DEFAULT_URL])[0]
    options = CheckoutOptions(
        url=url,
        admin_token=args.admin_token,
        users=args.users,
        stock=args.stock if args.stock is not None else 100,
        hold_s=args.hold_seconds,
        extend_s=args.extend_seconds,
        pay_delay=args.pay_delay,
        abandon_rate=args.abandon_rate,
        late_rate=args.late_rate,
        seed=args.seed,
        max_run_s=args.max_run_seconds,
        webhook_secret=secret,
        webhook_port=args.webhook_port,
    )
    return run_judged(
        lambda: run_checkout(options), url, args.report, format_checkout, write_checkout_report
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= MAX_PAUSE_S:
        raise argparse.ArgumentTypeError(f"between 0 and {MAX_PAUSE_S:g} seconds, not {text}")
    return value


def _pause_plan(args: argparse.Namespace) -> PausePlan | None:
    if args.pause_at is None:
        return None
    from stress.scenarios.operator import PausePlan

    return PausePlan(args.pause_at, args.resume_after)


def _pause_refused(args: argparse.Namespace) -> str | None:
    if (args.pause_at is None) != (args.resume_after is None):
        return "--pause-at and --resume-after go together"
    if args.pause_at is not None and not args.admin_token:
        return "--pause-at needs --admin-token (the pause is an admin PATCH)"
    return None


def _cmd_flash(args: argparse.Namespace) -> int:
    import requests

    from stress.api_client import ApiError
    from stress.report.summary import format_summary
    from stress.scenarios.flash import run_flash
    from stress.scenarios.identity import IdentityError

    if args.stock is not None and not args.admin_token:
        print(
            "stress flash: --stock needs --admin-token; using the sale as it stands",
            file=sys.stderr,
        )
    if any(product.stock is not None for product in args.products) and not args.admin_token:
        print(
            "stress flash: a product's :stock needs --admin-token; using the sale as it stands",
            file=sys.stderr,
        )
    if args.ceiling and not args.admin_token:
        print("stress flash: --ceiling needs --admin-token", file=sys.stderr)
        return 2
    refused = _hosts_refused(args) or _pause_refused(args)
    if refused:
        print(f"stress flash: {refused}", file=sys.stderr)
        return 2
    try:
        options = flash_options(args, args.url, args.admin_token, args.report)
    except IdentityError as exc:
        print(f"stress flash: {exc}", file=sys.stderr)
        return 2
    if args.ceiling and options.signing is not None:
        # The ceiling's loads buy as a new userId per request: they sign no tokens.
        print("stress flash: --ceiling runs in open mode only, not with --jwt-*", file=sys.stderr)
        return 2
    if args.ceiling:
        options = replace(options, ceiling=ceiling_options(args))
    options = replace(options, pause=_pause_plan(args))
    try:
        result = run_flash(options)
    except ProductsError as exc:
        print(f"stress flash: {exc}", file=sys.stderr)
        return 2
    except (ApiError, requests.RequestException) as exc:
        print(f"stress flash: cannot run against {', '.join(args.urls)}: {exc}", file=sys.stderr)
        return 2
    print(format_summary(result))
    if result.ceiling is not None:
        from stress.benchmarks.ceiling import format_ceiling

        print("\n" + format_ceiling(result.ceiling))
    if args.report:
        print(f"\nreport: {args.report / 'report.html'}")
    return 0 if result.ok else 1


def _hosts_refused(args: argparse.Namespace) -> str | None:
    """Fills in the hosts (the default URL without --url; `url`: the first, where the
    sale and --ceiling go); what is wrong with them, if anything."""
    args.urls = args.urls or [DEFAULT_URL]
    args.url = args.urls[0]
    if args.two_hosts_each and len(args.urls) < 2:
        return "--two-hosts-each needs two --url at least"
    if len(set(args.urls)) < len(args.urls):
        return "a --url is given twice"
    return None
