"""The command line builds complete options for every command (nothing runs)."""

from __future__ import annotations

import shlex
from typing import Any

from stress.__main__ import build_parser
from stress.commands.options import ceiling_options, flash_options
from stress.commands.sweep import sweep_options


def parse(line: str):
    return build_parser().parse_args(shlex.split(line))


def test_flash_options_from_the_documented_command_line():
    args = parse(
        "flash --url http://127.0.0.1:8000 --users 5000 --stock 100 --processes 8 "
        "--admin-token T --report out --scenario prestart --start-lead 3"
    )
    options = flash_options(args, args.urls[0], args.admin_token, args.report)
    assert (options.users, options.stock, options.processes) == (5000, 100, 8)
    assert options.admin_token == "T" and str(options.report_dir) == "out"
    assert options.scenario.scenario == "prestart" and options.start_lead_s == 3.0


def test_flash_options_of_the_client_processes():
    defaults = flash_options(parse("flash"), "u", None, None)
    assert (defaults.processes, defaults.watchers, defaults.watcher_processes) == (4, 0, 2)
    assert defaults.page_open and defaults.concurrency is None
    assert (defaults.spread_warning_ms, defaults.sold_out_within_ms) == (100.0, 1000.0)
    args = parse(
        "flash --watchers 10000 --watcher-processes 0 --cold --spread-warning-ms 250 "
        "--sold-out-within-ms 2000"
    )
    options = flash_options(args, "u", None, None)
    assert (options.watchers, options.watcher_processes, options.page_open) == (10000, 0, False)
    assert (options.spread_warning_ms, options.sold_out_within_ms) == (250.0, 2000.0)


def test_ceiling_and_sweep_options():
    ceiling = ceiling_options(parse("ceiling --admin-token T --seconds 4 --rounds 3"))
    assert (ceiling.seconds, ceiling.rounds, ceiling.load_generator) == (4.0, 3, "auto")
    assert (ceiling.burst_users, ceiling.burst_stock, ceiling.burst_processes) == (5000, 100, 2)
    no_burst = ceiling_options(parse("ceiling --admin-token T --burst-users 0 --burst-stock 7"))
    assert (no_burst.burst_users, no_burst.burst_stock) == (0, 7)
    sweep = sweep_options(parse("sweep --workers 1,2,4,8 --users 900"))
    assert sweep.workers == [1, 2, 4, 8]
    assert sweep.ceiling is not None
    assert sweep.flash.users == 900 and sweep.ceiling.rounds == 2
    # The sweep's ceiling takes every ceiling option, --rounds included.
    with_rounds = sweep_options(parse("sweep --workers 2 --rounds 4")).ceiling
    assert with_rounds is not None and with_rounds.rounds == 4
    assert sweep_options(parse("sweep --workers 2 --no-ceiling")).ceiling is None


def test_flash_can_add_the_ceiling_on_the_same_server():
    args = parse("flash --admin-token T --ceiling --seconds 6 --engine python")
    assert args.ceiling and ceiling_options(args).seconds == 6.0
    assert ceiling_options(args).load_generator == "python"
    # --load-generator is its name; --engine, above, still works.
    wrk = parse("ceiling --admin-token T --load-generator wrk")
    assert ceiling_options(wrk).load_generator == "wrk"


def test_a_sale_used_as_it_stands_is_read_from_the_status():
    from stress.scenarios.flash import FlashOptions, _prepare_sale

    status = {
        "saleId": 11,
        "state": "open",
        "total": 500,
        "remaining": 380,
        "sold": 120,
        "perUserLimit": 2,
    }
    no_api: Any = object()  # a sale used as it stands calls no admin API
    sale, facts = _prepare_sale(no_api, FlashOptions(admin_token=None), status)
    assert sale is None
    assert (facts.sale_id, facts.stock, facts.sold_before, facts.per_user_limit) == (
        "11",
        380,
        120,
        2,
    )


def test_the_allocator_benchmark_decides_and_journals_every_purchase(tmp_path):
    from stress.benchmarks.allocator import measure

    figures = measure(purchases=3000, clients=2, window=64, journal_dir=tmp_path)
    assert figures["purchases"] == 3000
    assert figures["outcomes"] == {"CONFIRMED": 3000}  # ACKs are not counted as replies
    assert figures["journaled"] == 3000
    assert figures["decisionsPerSecond"] > 0


def test_the_journal_footprint_is_measured_in_bytes_an_order_and_a_wal_peak(tmp_path, capsys):
    from stress.benchmarks.journal_footprint import measure
    from stress.commands.journal import main

    figures = measure(orders=2000, per_commit=20, ids="uuid", journal_dir=tmp_path)
    assert 100 < figures["bytesPerOrder"] < 1000
    assert figures["databaseBytes"] > 2000 * 100
    assert figures["walPeakBytes"] > 2000 / 20 * 4096  # a page at least a commit
    assert main(["--orders", "500", "--ids", "short"]) == 0
    assert "bytes an order" in capsys.readouterr().out


def test_redis_figures_options_from_the_command_line():
    from stress.commands.redis import redis_options

    defaults = redis_options(parse("redis"))
    assert defaults.phases == ("decide", "hosts", "burst")
    assert defaults.batch_sizes == (1, 8, 32, 128, 512) and defaults.host_counts == (1, 2, 3)
    assert (defaults.burst_users, defaults.burst_stock, defaults.burst_hosts) == (3000, 100, 3)
    assert (defaults.load.workers, defaults.load.seconds) == (1, 5.0)
    args = parse("redis --phases decide --batches 4,16 --hosts 2 --workers 2 --seconds 3")
    options = redis_options(args)
    assert options.phases == ("decide",) and options.batch_sizes == (4, 16)
    assert options.host_counts == (2,) and (options.load.workers, options.load.seconds) == (2, 3.0)


def test_streams_options_from_the_command_line():
    from stress.commands.streams import streams_options

    defaults = streams_options(parse("streams"))
    assert defaults.phases == ("memory", "flood")
    assert (defaults.streams, defaults.rounds, defaults.per_source) == (8000, 2, 16)
    assert (defaults.settle_s, defaults.flood, defaults.repo) == (12.0, 8000, None)
    options = streams_options(parse("streams --phases flood --flood 300 --repo /tmp/x"))
    assert options.phases == ("flood",) and options.flood == 300
    assert str(options.repo) == "/tmp/x"


def test_flash_queue_options():
    from stress.commands.flash_queue import queue_options
    from stress.scenarios.queue_plans import refused

    args = parse(
        "flash --queue --admin-token T --url http://h:1 --users 2000 --stock 1500 "
        "--admit-per-minute 6000 --admitted-seconds 60 --prequeue-seconds 12 "
        "--later-seconds 8 --skippers 60 --processes 3 --confidence 0.99"
    )
    options = queue_options(args)
    assert args.queue and options.url == "http://h:1" and options.admin_token == "T"
    assert (options.people, options.stock, options.admit_per_minute) == (2000, 1500, 6000)
    assert (options.admitted_s, options.prequeue_s, options.later_s) == (60, 12.0, 8.0)
    assert (options.skippers, options.processes, options.confidence) == (60, 3, 0.99)
    assert refused(options) is None
    at_once = queue_options(parse("flash --queue --admit-per-minute 0"))
    assert at_once.admit_per_minute is None and at_once.stock == 100
    assert refused(queue_options(parse("flash --queue --prequeue-seconds 0.5"))) is not None
