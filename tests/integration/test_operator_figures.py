"""What operators read about the server's processes: CPU and memory of each one."""

from __future__ import annotations

import requests


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

    prometheus = requests.get(f"{server.url}/metrics", timeout=5).text
    for pid, role in roles.items():
        labels = f'{{pid="{pid}",role="{role}"}}'
        assert f"flashsale_process_cpu_seconds_total{labels}" in prometheus
        assert f"flashsale_process_resident_memory_bytes{labels}" in prometheus
