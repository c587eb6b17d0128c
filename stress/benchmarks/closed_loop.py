"""One closed-loop measurement of one target on one server: N keep-alive
connections, each sending its next request as soon as the answer arrives.

Targets: `status` (GET /flash-sale/status) and `purchase` (POST
/flash-sale/purchase, a new user per request). Load generators: `wrk` (Debian's
package) when installed, else Python loops over `http.client` keep-alive
connections in a few client processes. The Python one skips `requests` on
purpose: it costs about 1 ms of CPU per call on this 2-core host against
0.25 ms for `http.client`, and every client cycle is a cycle the server does
not get.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stress.api_client import ApiError
from stress.client.loops import run_python_loops
from stress.runs import new_run_id
from stress.verdicts.server_usage import per_request_us

WRK_THREADS = 2
WRK_SCRIPT = """
local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end
function init(args)
  mode = args[1]
  prefix = args[2]
  counter = 0
  codes = {}
end
function request()
  if mode == "status" then
    return wrk.format("GET", "/flash-sale/status")
  end
  counter = counter + 1
  local body = '{"userId":"' .. prefix .. '-' .. tid .. '-' .. counter .. '"}'
  return wrk.format("POST", "/flash-sale/purchase", {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end
function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("codes")) do
      all[code] = (all[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(all) do
    table.insert(parts, string.format('"%d": %d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'STRESS_WRK {"durationUs": %.0f, "errors": %.0f, "p50Us": %.0f, "p99Us": %.0f, ' ..
    '"maxUs": %.0f, "codes": {%s}}\\n',
    summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ", ")))
end
"""


@dataclass
class Measurement:
    target: str  # "status" | "purchase"
    load_generator: str  # "wrk" | "python"
    seconds: float
    codes: dict[str, int]
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    expected_code: int
    server_cpu_s: float | None = None  # the server's processes, over this measurement

    @property
    def good(self) -> int:
        return self.codes.get(str(self.expected_code), 0)

    @property
    def server_cpu_per_answer_us(self) -> int | None:
        return per_request_us(self.server_cpu_s, sum(self.codes.values()))

    @property
    def per_second(self) -> float:
        return round(self.good / self.seconds, 1) if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "good": self.good,
            "perSecond": self.per_second,
            "serverCpuPerAnswerUs": self.server_cpu_per_answer_us,
        }


def merge(rounds: list[Measurement]) -> Measurement:
    """Rounds of one target as one measurement: counts add up; p50 is the median of
    the rounds' p50s, p99 and max the worst round's."""
    codes: dict[str, int] = {}
    for m in rounds:
        for code, count in m.codes.items():
            codes[code] = codes.get(code, 0) + count
    p50s = sorted(m.p50_ms for m in rounds if m.p50_ms is not None)
    p99s = [m.p99_ms for m in rounds if m.p99_ms is not None]
    maxes = [m.max_ms for m in rounds if m.max_ms is not None]
    cpu = [m.server_cpu_s for m in rounds if m.server_cpu_s is not None]
    first = rounds[0]
    return Measurement(
        target=first.target,
        load_generator=first.load_generator,
        seconds=round(sum(m.seconds for m in rounds), 3),
        codes=codes,
        errors=sum(m.errors for m in rounds),
        p50_ms=p50s[len(p50s) // 2] if p50s else None,
        p99_ms=max(p99s) if p99s else None,
        max_ms=max(maxes) if maxes else None,
        expected_code=first.expected_code,
        server_cpu_s=round(sum(cpu), 2) if len(cpu) == len(rounds) else None,
    )


def pick_load_generator(load_generator: str) -> str:
    if load_generator == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if load_generator == "wrk" and not shutil.which("wrk"):
        raise ApiError("--load-generator wrk: wrk is not installed (apt-get install -y wrk)")
    return load_generator


def measure(
    load_generator: str,
    url: str,
    target: str,
    *,
    connections: int,
    seconds: float,
    client_processes: int,
    wrk_threads: int = WRK_THREADS,
) -> Measurement:
    """`wrk_threads`: fewer when several measurements run at once (one per host)."""
    expected = 200 if target == "status" else 201
    if load_generator == "wrk":
        return _measure_wrk(
            url, target, expected, connections=connections, seconds=seconds, threads=wrk_threads
        )
    outcome = run_python_loops(url, target, connections, seconds, client_processes)
    return Measurement(
        target,
        "python",
        outcome.seconds,
        outcome.codes,
        outcome.errors,
        outcome.p50_ms,
        outcome.p99_ms,
        outcome.max_ms,
        expected,
    )


def _measure_wrk(
    url: str,
    target: str,
    expected: int,
    *,
    connections: int,
    seconds: float,
    threads: int = WRK_THREADS,
) -> Measurement:
    parts = urlsplit(url)
    with tempfile.TemporaryDirectory(prefix="stress-wrk-") as folder:
        script = Path(folder) / "flashsale.lua"
        script.write_text(WRK_SCRIPT)
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{max(connections, threads)}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"{parts.scheme}://{parts.netloc}/",
            "--",
            target,
            f"w{new_run_id()}",
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    line = next((x for x in done.stdout.splitlines() if x.startswith("STRESS_WRK ")), None)
    if line is None:
        raise ApiError(f"wrk gave no summary (exit {done.returncode}): {done.stderr[-500:]}")
    data = json.loads(line.removeprefix("STRESS_WRK "))
    return Measurement(
        target=target,
        load_generator="wrk",
        seconds=data["durationUs"] / 1e6,
        codes={str(k): v for k, v in data["codes"].items()},
        errors=int(data["errors"]),
        p50_ms=round(data["p50Us"] / 1000, 2),
        p99_ms=round(data["p99Us"] / 1000, 2),
        max_ms=round(data["maxUs"] / 1000, 2),
        expected_code=expected,
    )
