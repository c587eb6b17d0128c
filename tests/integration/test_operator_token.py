"""FLASHSALE_OPERATOR_TOKEN: process ids, CPU, memory and restarts only for operators."""

from __future__ import annotations

import requests

TOKEN = "operator-secret-1"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_operator_figures_need_the_token_and_health_stays_open_for_load_balancers(
    start_server,
):
    server = start_server(workers=2, env={"FLASHSALE_OPERATOR_TOKEN": TOKEN})
    for path in ("/flash-sale/metrics", "/metrics"):
        anonymous = requests.get(f"{server.url}{path}", timeout=5)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="flashsale"'
        assert "FLASHSALE_OPERATOR_TOKEN" in anonymous.json()["detail"]
        wrong = requests.get(
            f"{server.url}{path}", headers={"Authorization": "Bearer not-the-token"}, timeout=5
        )
        assert wrong.status_code == 401, path
        assert (
            wrong.headers["www-authenticate"] == 'Bearer realm="flashsale", error="invalid_token"'
        )
        assert wrong.json()["type"] == "/problems/invalid-token"
        assert requests.get(f"{server.url}{path}", headers=BEARER, timeout=5).status_code == 200

    minimal = requests.get(f"{server.url}/flash-sale/health", timeout=5)
    assert minimal.status_code == 200
    assert minimal.json() == {"status": "ok"}  # no pid, restarts or breaker detail
    detail = requests.get(f"{server.url}/flash-sale/health", headers=BEARER, timeout=5).json()
    assert detail["allocator"]["pid"] == server.allocator_pid()
    metrics = requests.get(f"{server.url}/flash-sale/metrics", headers=BEARER, timeout=5).json()
    assert {p["role"] for p in metrics["processes"]} == {"master", "allocator", "worker"}

    # What shoppers read stays open.
    assert requests.get(f"{server.url}/flash-sale/status", timeout=5).status_code == 200
    with requests.get(f"{server.url}/flash-sale/events", stream=True, timeout=5) as stream:
        assert stream.status_code == 200
