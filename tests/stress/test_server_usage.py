from __future__ import annotations

from stress.verdicts.server_usage import cpu_summary, per_request_us, server_cpu_s


def _metrics(*processes: tuple[int, float]) -> dict:
    return {"processes": [{"pid": pid, "cpuSeconds": cpu} for pid, cpu in processes]}


def test_the_server_cpu_is_the_growth_of_each_process():
    before = _metrics((1, 10.0), (2, 5.0), (3, 1.0))
    # Worker 3 died and worker 4 replaced it during the load: 4 counts whole.
    after = _metrics((1, 10.5), (2, 7.0), (4, 0.75))
    assert server_cpu_s(before, after) == 3.25
    assert per_request_us(3.25, 5000) == 650


def test_no_figure_without_both_readings():
    assert server_cpu_s(None, _metrics((1, 1.0))) is None
    assert server_cpu_s({"uptimeSeconds": 3}, _metrics((1, 1.0))) is None  # an older server
    assert per_request_us(None, 10) is None
    assert per_request_us(1.0, 0) is None


def test_the_summary_says_who_spent_the_host_cpu():
    run = {
        "loadWallS": 4.0,
        "hostLoadAverage1m": {"cores": 2},
        "clientCpuS": 5.0,
        "processes": 8,
        "serverCpuS": 2.2,
        "serverCpuPerRequestUs": 440,
    }
    assert cpu_summary(run) == (
        "server CPU 2.2 s (440 µs per request) + client CPU 5.0 s (8 processes) "
        "over 4.0 s of load, 90% of this host's 2 cores"
    )
    run["serverCpuS"] = None
    assert cpu_summary(run).endswith("the server did not report its CPU")
