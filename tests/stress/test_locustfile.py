"""stress/locustfile.py loads without Locust installed (Locust is an optional
extra), under stand-ins for `locust` and `gevent`, and its shopper rules hold."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

LOCUSTFILE = Path(__file__).resolve().parents[2] / "stress" / "locustfile.py"


class _Hook:
    def add_listener(self, function):
        return function


def _stand_ins() -> dict[str, types.ModuleType]:
    # Any: attributes are set on them that ModuleType does not declare.
    locust: Any = types.ModuleType("locust")
    locust.HttpUser = type("HttpUser", (), {})
    locust.constant = lambda seconds: lambda user: seconds
    locust.task = lambda function: function
    locust.events = types.SimpleNamespace(
        init_command_line_parser=_Hook(),
        test_start=_Hook(),
        report_to_master=_Hook(),
        worker_report=_Hook(),
        quitting=_Hook(),
    )
    runners: Any = types.ModuleType("locust.runners")
    runners.WorkerRunner = type("WorkerRunner", (), {})
    gevent: Any = types.ModuleType("gevent")
    gevent.Greenlet = type("Greenlet", (), {})
    gevent.sleep = gevent.spawn = lambda *args, **kwargs: None
    return {"locust": locust, "locust.runners": runners, "gevent": gevent}


@pytest.fixture
def locustfile(monkeypatch):
    for name, module in _stand_ins().items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("flashsale_locustfile", LOCUSTFILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_defines_one_shopper_and_its_options(locustfile):
    assert issubclass(locustfile.Shopper, sys.modules["locust"].HttpUser)
    import argparse

    parser = argparse.ArgumentParser()
    locustfile.add_options(parser)
    options = parser.parse_args(["--watch-events", "--admin-token", "T", "--start-in", "3"])
    assert options.watch_events and options.admin_token == "T" and options.start_in == 3.0
    assert (options.stock, options.max_retries, options.poll_interval) == (100, 2, 2.0)


def test_the_countdown_corrects_for_the_servers_clock(locustfile):
    status = {"startsAt": "2030-01-01T00:00:10Z", "serverTime": "2030-01-01T00:00:00Z"}
    server_now = 1893456000.0  # 2030-01-01T00:00:00Z
    # This machine's clock is 2 s behind the server's: the start is 8 s after its 00:00:00.
    start = locustfile.local_start_s(status, server_now - 2.1, server_now - 1.9)
    assert start == pytest.approx(server_now + 8.0)
    assert locustfile.local_start_s({"state": "open"}, 0.0, 0.0) is None


def test_buy_again_only_when_the_server_says_so(locustfile):
    pause = locustfile.pause_after
    assert pause(403, "not_started", None, 0) == locustfile.NOT_STARTED_RETRY_S
    assert pause(429, "rate_limited", "3", 1) == 3.0
    assert pause(503, "unavailable", "60", 1) == locustfile.MAX_RETRY_WAIT_S
    assert pause(503, "unavailable", "soon", 1) == 1.0
    assert pause(503, "unavailable", "1", 0) is None  # no retries left
    for final in ((201, "confirmed"), (409, "already_purchased"), (410, "sold_out")):
        assert pause(*final, None, 2) is None


def test_status_events_from_stream_lines(locustfile):
    lines = [
        "retry: 2000",
        "event: status",
        "id: 1",
        'data: {"state":"open","sold":0}',
        "",
        ": heartbeat",
        "",
        "event: other",
        "data: {}",
        "",
    ]
    assert locustfile.status_events(lines) == [{"state": "open", "sold": 0}]


def test_a_jwt_shopper_token_names_it(locustfile):
    import argparse

    import jwt

    parser = argparse.ArgumentParser()
    locustfile.add_options(parser)
    secret = "a-locust-secret-of-at-least-32-bytes"
    options = parser.parse_args(["--jwt-secret", secret, "--jwt-audience", "flash-sale"])
    token = locustfile.mint_token(options, "locust-1", now_s=1_900_000_000)
    claims = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        audience="flash-sale",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {
        "sub": "locust-1",
        "iat": 1_900_000_000,
        "aud": "flash-sale",
        "exp": 1_900_000_000 + locustfile.TOKEN_LIFETIME_S,
    }
    assert parser.parse_args([]).jwt_secret == ""


def test_a_shopper_asks_for_one_of_several_products_evenly(locustfile):
    import random

    rng = random.Random(4)
    several = {"products": [{"sku": "s"}, {"sku": "m"}, {"sku": "l"}]}
    picks = [locustfile.pick_sku(several, rng) for _ in range(3000)]
    assert {sku: picks.count(sku) for sku in "sml"} == pytest.approx(
        {"s": 1000, "m": 1000, "l": 1000}, abs=150
    )
    assert locustfile.pick_sku({"products": [{"sku": "aurora-anc"}]}, rng) is None
    assert locustfile.pick_sku({"state": "open"}, rng) is None  # a server without products
