"""`python -m stress streams` against real servers, small: it measures, and the flood
phase finds the per-address bound."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stress.benchmarks.streams import StreamsOptions, format_streams, run_streams
from stress.benchmarks.waiting_pages import ProcessCpu, WaitingFigures, format_waiting
from stress.servers.redis_server import redis_server_binary

STREAMS_PER_ADDRESS = 128  # FLASHSALE_EVENT_STREAMS_PER_ADDRESS's default, per worker


def test_streams_measures_a_round_and_one_address_gets_its_share_of_streams():
    result = run_streams(StreamsOptions(streams=200, rounds=1, settle_s=0.5, flood=400))
    memory, flood = result.memory, result.flood
    assert memory is not None and flood is not None
    (round_,) = memory.rounds
    assert (round_.opened, round_.refused) == (200, 0)
    # Readings, not a figure: 200 streams may fit in memory the worker already had.
    assert min(round_.rss_before, round_.rss_open, round_.rss_closed, round_.rss_settled) > 0
    # One address: at most its share on each of the two workers, the rest refused.
    assert sum(flood.answers.values()) == 400
    assert 0 < flood.answers.get("200", 0) <= 2 * STREAMS_PER_ADDRESS
    assert flood.answers.get("429", 0) >= 400 - 2 * STREAMS_PER_ADDRESS
    assert set(flood.answers) <= {"200", "429"}, flood.answers
    assert flood.shopper_failures == 0 and flood.purchase == 201
    report = format_streams(result)
    assert "KiB a stream" in report and "429" in report


@pytest.mark.skipif(redis_server_binary() is None, reason="redis-server is not installed")
def test_the_waiting_phase_holds_its_pages_in_a_moving_room_and_reads_every_process():
    # Small, on the Redis engine (its code path is the SQLite one's and a redis-server).
    result = run_streams(
        StreamsOptions(phases=("waiting",), pages=300, hold_s=3.0, workers=2, engine="redis")
    )
    waiting = result.waiting
    assert waiting is not None and result.memory is None and result.flood is None
    assert (waiting.pages, waiting.pages_lost, waiting.engine) == (300, 0, "redis")
    assert waiting.serving_after > waiting.serving_before  # the room moved meanwhile
    roles = sorted(p.role for p in waiting.cpu)
    assert roles == ["allocator", "master", "redis-server", "worker", "worker"]
    assert [p.role for p in waiting.idle_cpu] == [p.role for p in waiting.cpu]
    assert "decided by Redis" in format_streams(result)


def test_the_waiting_phase_reports_cpu_a_minute_and_per_page():
    figures = WaitingFigures(
        pages=1000,
        workers=2,
        engine="redis",
        hold_s=30.0,
        settings={"FLASHSALE_MAX_EVENT_STREAMS": "2000"},
        tickets=100,
        serving_before=10,
        serving_after=40,
        cpu=[ProcessCpu("allocator", 1, 0.5, 0.25), ProcessCpu("worker", 2, 0.25, 0.25)],
        idle_cpu=[ProcessCpu("allocator", 1, 0.25, 0.0), ProcessCpu("worker", 2, 0.0, 0.25)],
        events_per_page=(3, 3, 3.0),
        heartbeats_per_page=(0, 0, 0.0),
        pages_lost=0,
    )
    report = "\n".join(format_waiting(figures))
    assert "FLASHSALE_MAX_EVENT_STREAMS=2000" in report  # what the phase changed
    assert "server 2.50 s CPU, workers 1.00 s" in report  # a minute, from 30 s
    assert "2500.0 us (server), 1000.0 us (workers)" in report  # a page-minute
    assert "now serving 10 -> 40" in report
    assert "a waiting room decided by Redis admitting 6000 a minute" in report
    # With no page open, the same server spent 1.00 s a minute: the pages, 1.50 s.
    idle = "no page open, as long: 0.50 s CPU (allocator 0.25, worker 0.25); a minute: 1.00 s"
    assert idle in report
    assert "the pages' own cost a minute: 1.50 s (1500.0 us a page-minute)" in report
    no_pages = "\n".join(format_waiting(replace(figures, pages=0)))
    assert "per page-minute" not in no_pages
