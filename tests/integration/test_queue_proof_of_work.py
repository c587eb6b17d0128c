"""A waiting room that asks for proof of work: a join needs an ALTCHA challenge of this
sale solved, once; anything else is a 403 and joins nobody."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import altcha
import pytest
import requests

from tests.support.engines import ENGINES, engine_settings
from tests.support.sales import start_next_sale
from tests.support.server import ServerProcess, running_server, wait_until

ADMIN_TOKEN = "admin-token-for-proof-of-work"
TIMEOUT_S = 10


def _solved(url: str) -> str:
    challenge = requests.get(f"{url}/flash-sale/queue/challenge", timeout=TIMEOUT_S)
    assert challenge.status_code == 200, challenge.text
    assert challenge.headers["Cache-Control"] == "no-store"
    parsed = altcha.Challenge.from_dict(challenge.json())
    solution = altcha.solve_challenge(parsed, timeout=60)
    assert solution is not None
    return altcha.Payload(parsed, solution).to_base64()


def _join(url: str, user: str, proof: str | int | None = None) -> requests.Response:
    body: dict[str, str | int] = {"userId": user}
    if proof is not None:
        body["altcha"] = proof
    return requests.post(f"{url}/flash-sale/queue", json=body, timeout=TIMEOUT_S)


@contextmanager
def _server(tmp_path: Path, engine: str) -> Iterator[ServerProcess]:
    """A server of two workers on `engine`, with the operators' token."""
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    with (
        engine_settings(engine, tmp_path) as (engine_env, _),
        running_server(tmp_path / "j.db", workers=2, env=env | engine_env) as server,
    ):
        yield server


def _in_five_minutes() -> str:
    return (datetime.now(UTC) + timedelta(minutes=5)).isoformat()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_join_needs_one_solved_challenge(tmp_path, engine: str) -> None:
    """In the Redis engine the solution is spent in Redis: no host takes it again."""
    with _server(tmp_path, engine) as server:
        url = server.url
        # Without proof of work there is no challenge to solve.
        starts = _in_five_minutes()
        start_next_sale(url, ADMIN_TOKEN, stock=5, startsAt=starts, queue={})
        assert (
            requests.get(f"{url}/flash-sale/queue/challenge", timeout=TIMEOUT_S).status_code == 404
        )
        start_next_sale(url, ADMIN_TOKEN, stock=5, startsAt=starts, queue={"proofOfWork": True})
        assert requests.get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()["queue"][
            "proofOfWork"
        ]

        missing = _join(url, "alice")
        assert missing.status_code == 403
        assert missing.json()["type"] == "/problems/proof-of-work-required"
        for junk in ("", "not base64 at all", "eyJ4IjogMX0=", 42, "A" * 3000):
            refused = _join(url, "alice", junk)
            assert refused.status_code in (400, 403), (junk, refused.text)
            assert refused.json()["type"] in (
                "/problems/proof-of-work-invalid",
                "/problems/invalid-body",
            )

        proof = _solved(url)
        joined = _join(url, "alice", proof)
        assert joined.status_code == 201, joined.text
        # The same solution buys no second ticket.
        reused = _join(url, "bob", proof)
        assert (
            reused.status_code == 403 and reused.json()["type"] == "/problems/proof-of-work-invalid"
        )
        assert _join(url, "bob", _solved(url)).status_code == 201
        status = requests.get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()
        assert status["queue"]["length"] == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_a_spent_solution_stays_spent_across_a_kill_9_of_the_allocator(
    tmp_path, engine: str
) -> None:
    """The SQLite journal keeps the solutions its joins spent (Redis keeps its own)."""
    with _server(tmp_path, engine) as server:
        url = server.url
        queue = {"proofOfWork": True}
        start_next_sale(url, ADMIN_TOKEN, stock=5, startsAt=_in_five_minutes(), queue=queue)
        proof = _solved(url)
        assert _join(url, "alice", proof).status_code == 201

        pid = server.allocator_pid()
        os.kill(pid, signal.SIGKILL)
        try:
            wait_until(lambda: server.allocator_pid() != pid, 30, message="a new allocator")
        finally:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # Joins wait for the new allocator's recovery (503 meanwhile), then: spent.
        wait_until(
            lambda: _join(url, "bob", proof).status_code != 503, 60, message="joins answered"
        )
        reused = _join(url, "bob", proof)
        assert reused.status_code == 403, reused.text
        assert reused.json()["type"] == "/problems/proof-of-work-invalid"
        assert _join(url, "bob", _solved(url)).status_code == 201
