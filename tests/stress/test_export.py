"""`python -m stress export` against a real server, small: it builds its options from
the command line, fills a sale by real purchases, and its checks hold (the export
is the journal's orders row for row, every purchase a 201). The figures themselves
(memory, latency) are the benchmark's to print, not a test's to bound."""

from __future__ import annotations

import json
import shlex

import pytest

from flashsale.clock import iso_from_us
from flashsale.orders_csv import HEADER, csv_lines
from flashsale.records import ListedOrder, OrderRecord
from stress.__main__ import build_parser, main
from stress.benchmarks.export import csv_mismatch, format_export, run_export
from stress.commands.export import export_options

ORDERS = 2000
SMALL_RUN = (
    f"export --orders {ORDERS} --engine-store sqlite --workers 1 --rounds 1 --seconds 1.5 "
    "--rate 100 --connections 4 --fill-processes 1 --fill-connections 8 --slow-seconds 1"
)


def test_export_fills_a_sale_and_checks_its_csv_against_the_journal_end_to_end(tmp_path):
    options = export_options(build_parser().parse_args(shlex.split(SMALL_RUN)))
    assert (options.sizes, options.engines, options.workers, options.rate) == (
        (ORDERS,),
        ("sqlite",),
        1,
        100.0,
    )

    result = run_export(options)

    assert result.ok, format_export(result)
    (size,) = result.sizes
    assert size.fill is not None and size.fill.exact and size.fill.codes.get("201") == ORDERS
    assert size.mismatch is None
    assert size.alone is not None and size.alone.rows == ORDERS
    assert size.alone.bytes > ORDERS * 60  # a line is 80-odd bytes
    (round_,) = size.rounds
    assert round_.exports and all(d.complete and d.rows >= ORDERS for d in round_.exports)
    for outcome in (round_.without, round_.during):
        assert outcome.codes == {"201": outcome.sent} and outcome.sent >= 100
    assert size.slow is not None and size.slow.bytes > 0
    memory = [size.alone_memory, round_.memory, size.slow.memory]
    assert all(
        m is not None and m.served in m.before and min(m.before.values()) > 0 for m in memory
    )
    report = format_export(result)
    assert "rows/s" in report and "p99 during" in report and "verdict: every sale" in report


def test_the_command_writes_its_report_and_exits_0(tmp_path, capsys):
    assert main([*shlex.split(SMALL_RUN), "--rounds", "0", "--report", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "export.json").read_text())
    assert report["ok"] and report["sizes"][0]["mismatch"] is None
    assert "verdict: every sale" in capsys.readouterr().out


ORDER = OrderRecord("0f8e7d6c-0000-4000-8000-000000000001", 1, "ann", 1, 1, 1_700_000_000, "A", 1)
OTHER = ORDER._replace(order_id="0f8e7d6c-0000-4000-8000-000000000002", user_id="bob", position=2)


def _listed(*orders: OrderRecord) -> list[ListedOrder]:
    return [ListedOrder(*order, "confirmed", None) for order in orders]


def test_the_check_finds_a_csv_that_is_not_the_journal_s_orders():
    whole = HEADER + csv_lines(_listed(ORDER, OTHER))
    assert csv_mismatch(whole, [ORDER, OTHER], 2) is None
    assert "row 2" in str(csv_mismatch(whole.replace(b"bob", b"eve"), [ORDER, OTHER], 2))
    assert "1 rows for 2" in str(
        csv_mismatch(HEADER + csv_lines(_listed(ORDER)), [ORDER, OTHER], 2)
    )
    assert "2 rows for 1" in str(csv_mismatch(whole, [ORDER], 1))
    assert "not the 3 filled" in str(csv_mismatch(whole, [ORDER, OTHER], 3))
    assert "no header" in str(csv_mismatch(csv_lines(_listed(ORDER, OTHER)), [ORDER, OTHER], 2))
    shifted = OTHER._replace(purchased_at_us=OTHER.purchased_at_us + 1000)
    assert str(iso_from_us(shifted.purchased_at_us)) in str(
        csv_mismatch(whole, [ORDER, shifted], 2)
    )


@pytest.mark.parametrize("bad", ["--orders 0", "--orders x", "--engine-store mysql"])
def test_bad_options_are_refused(bad):
    with pytest.raises(SystemExit):
        build_parser().parse_args(shlex.split(f"export {bad}"))
