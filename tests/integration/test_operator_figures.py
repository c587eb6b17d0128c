"""What operators read about the server's processes: CPU and memory of each one."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families


def _processes(server) -> dict[int, dict]:
    metrics = requests.get(f"{server.url}/flash-sale/metrics", timeout=5).json()
    return {p["pid"]: p for p in metrics["processes"]}


def test_metrics_name_every_server_process_with_its_cpu_and_memory(start_server):
    server = start_server(workers=2)
    before = _processes(server)
    with requests.Session() as session:
        for _ in range(300):
            session.get(f"{server.url}/flash-sale/status", timeout=5).raise_for_status()
    after = _processes(server)

    roles = {pid: p["role"] for pid, p in after.items()}
    assert roles == {
        server.pid: "master",
        server.allocator_pid(): "allocator",
        **{pid: "worker" for pid in server.worker_pids()},
    }
    assert all(p["residentBytes"] > 1 << 20 for p in after.values())
    workers = [pid for pid, role in roles.items() if role == "worker"]
    spent = sum(after[pid]["cpuSeconds"] - before[pid]["cpuSeconds"] for pid in workers)
    assert spent > 0, "300 answers took no worker CPU time"

    # Series by role and worker slot; the pid only on flashsale_process_info.
    prometheus = requests.get(f"{server.url}/metrics", timeout=5).text
    families = {f.name: f.samples for f in text_string_to_metric_families(prometheus)}
    named = {int(s.labels["pid"]): s.labels for s in families["flashsale_process_info"]}
    assert {pid: labels["role"] for pid, labels in named.items()} == roles
    slots = {(labels["role"], labels["slot"]) for labels in named.values()}
    assert slots == {("master", ""), ("allocator", ""), ("worker", "0"), ("worker", "1")}
    for family in ("flashsale_process_cpu_seconds", "flashsale_process_resident_memory_bytes"):
        assert {(s.labels["role"], s.labels["slot"]) for s in families[family]} == slots
        assert all(set(s.labels) == {"role", "slot"} for s in families[family])


def test_health_names_every_server_process_with_its_memory(start_server):
    token = "health-operator-token"
    server = start_server(workers=3, env={"FLASHSALE_OPERATOR_TOKEN": token})
    health = requests.get(
        f"{server.url}/flash-sale/health",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    roles = {p["pid"]: p["role"] for p in health["processes"]}
    assert roles == {
        server.pid: "master",
        server.allocator_pid(): "allocator",
        **{pid: "worker" for pid in server.worker_pids()},
    }
    assert sorted(roles.values()) == ["allocator", "master", "worker", "worker", "worker"]
    assert all(p["residentBytes"] > 1 << 20 for p in health["processes"])
    # A load balancer, without the token, gets the status alone.
    anyone = requests.get(f"{server.url}/flash-sale/health", timeout=5).json()
    assert anyone == {"status": "ok"}
