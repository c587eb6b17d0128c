"""The throughput ceiling: the same closed-loop load (N keep-alive connections,
each sending its next request as soon as the answer arrives) first on
`GET /flash-sale/status` (no IPC), then on `POST /flash-sale/purchase` with a
new user per request and a stock larger than the load, so that every purchase
is a real, durable sale. Purchase throughput as a fraction of the status
throughput is the project's headline performance figure.

Engines: `wrk` (Debian's package) when installed, else Python loops over
`http.client` keep-alive connections in a few client processes. The Python
engine skips `requests` on purpose: it costs about 1 ms of CPU per call on this
2-core host against 0.25 ms for `http.client`, and every client cycle is a cycle
the server does not get.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stress.ceiling_loops import run_python_loops
from stress.common import Api, ApiError, new_run_id
from stress.server_usage import per_request_us, server_cpu_s

CEILING_STOCK = 5_000_000
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


@dataclass(frozen=True)
class CeilingOptions:
    url: str
    admin_token: str | None = None
    connections: int = 64
    seconds: float = 10.0
    engine: str = "auto"  # auto | wrk | python
    client_processes: int = 2
    rounds: int = 2  # status and purchase alternate, so drift in the host's load hits both


@dataclass
class Measurement:
    target: str  # "status" | "purchase"
    engine: str
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


@dataclass
class CeilingResult:
    status: Measurement
    purchase: Measurement
    sold_increase: int | None
    notes: list[str] = field(default_factory=list)
    connections: int = 0
    rounds: int = 1

    @property
    def ratio(self) -> float | None:
        if not self.status.per_second:
            return None
        return round(self.purchase.per_second / self.status.per_second, 3)

    @property
    def cost_ratio(self) -> float | None:
        """Server CPU per purchase over server CPU per status read."""
        purchase = self.purchase.server_cpu_per_answer_us
        status = self.status.server_cpu_per_answer_us
        if not purchase or not status:
            return None
        return round(purchase / status, 2)

    @property
    def durable(self) -> bool:
        """Every 201 counted is a sale the status shows, and the status shows no sale
        beyond them except answers still in flight when a round's window closed (at
        most one per connection and round, plus requests that failed)."""
        if self.sold_increase is None:
            return False
        slack = self.connections * self.rounds + self.purchase.errors
        return self.purchase.good <= self.sold_increase <= self.purchase.good + slack

    @property
    def ok(self) -> bool:
        return (
            self.durable
            and self.status.errors == 0
            and self.purchase.errors == 0
            and not any(code.startswith("5") for code in self.purchase.codes)
            and not any(code.startswith("5") for code in self.status.codes)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.to_dict(),
            "purchase": self.purchase.to_dict(),
            "ratio": self.ratio,
            "costRatio": self.cost_ratio,
            "soldIncrease": self.sold_increase,
            "durable": self.durable,
            "ok": self.ok,
            "notes": self.notes,
        }


def measure_ceiling(options: CeilingOptions) -> CeilingResult:
    engine = _pick_engine(options.engine)
    notes: list[str] = []
    api = Api(options.url, options.admin_token)
    try:
        if options.admin_token:
            api.start_sale(CEILING_STOCK, 1)
        else:
            notes.append("no admin token: purchases go to the sale as it stands")
        before = api.status()
        if int(before.get("remaining") or 0) < CEILING_STOCK // 10:
            notes.append(f"only {before.get('remaining')} items left: 410s are not counted")
        load_before = os.getloadavg()[0]
        statuses, purchases = [], []
        share = replace(options, seconds=options.seconds / max(1, options.rounds))
        for _ in range(max(1, options.rounds)):
            statuses.append(_measure_with_cpu(api, engine, share, "status"))
            purchases.append(_measure_with_cpu(api, engine, share, "purchase"))
        status, purchase = _merge(statuses), _merge(purchases)
        after = api.status()
        notes.append(
            f"host load average (1 min) {load_before:.2f} before, "
            f"{os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores"
        )
    finally:
        api.close()
    sold = after.get("sold")
    sold_increase = None
    if isinstance(sold, int) and after.get("saleId") == before.get("saleId"):
        sold_increase = sold - int(before.get("sold") or 0)
    return CeilingResult(
        status, purchase, sold_increase, notes, options.connections, max(1, options.rounds)
    )


def _measure_with_cpu(api: Api, engine: str, options: CeilingOptions, target: str) -> Measurement:
    before = api.metrics()
    measurement = _measure(engine, options, target)
    measurement.server_cpu_s = server_cpu_s(before, api.metrics())
    return measurement


def _merge(rounds: list[Measurement]) -> Measurement:
    """Rounds of one target as one measurement: counts add up; p50 is the median of
    the rounds' p50s, p99 and max the worst round's."""
    codes: dict[str, int] = {}
    for m in rounds:
        for code, count in m.codes.items():
            codes[code] = codes.get(code, 0) + count
    p50s = sorted(m.p50_ms for m in rounds if m.p50_ms is not None)
    p99s = [m.p99_ms for m in rounds if m.p99_ms is not None]
    maxes = [m.max_ms for m in rounds if m.max_ms is not None]
    cpu = [m.server_cpu_s for m in rounds]
    first = rounds[0]
    return Measurement(
        target=first.target,
        engine=first.engine,
        seconds=round(sum(m.seconds for m in rounds), 3),
        codes=codes,
        errors=sum(m.errors for m in rounds),
        p50_ms=p50s[len(p50s) // 2] if p50s else None,
        p99_ms=max(p99s) if p99s else None,
        max_ms=max(maxes) if maxes else None,
        expected_code=first.expected_code,
        server_cpu_s=None if None in cpu else round(sum(cpu), 2),
    )


def _pick_engine(engine: str) -> str:
    if engine == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if engine == "wrk" and not shutil.which("wrk"):
        raise ApiError("--engine wrk: wrk is not installed (apt-get install -y wrk)")
    return engine


def _measure(engine: str, options: CeilingOptions, target: str) -> Measurement:
    expected = 200 if target == "status" else 201
    if engine == "wrk":
        return _measure_wrk(options, target, expected)
    outcome = run_python_loops(
        options.url, target, options.connections, options.seconds, options.client_processes
    )
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


def _measure_wrk(options: CeilingOptions, target: str, expected: int) -> Measurement:
    parts = urlsplit(options.url)
    with tempfile.TemporaryDirectory(prefix="stress-wrk-") as folder:
        script = Path(folder) / "flashsale.lua"
        script.write_text(WRK_SCRIPT)
        command = [
            "wrk",
            f"-t{WRK_THREADS}",
            f"-c{max(options.connections, WRK_THREADS)}",
            f"-d{max(1, round(options.seconds))}s",
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
            command, capture_output=True, text=True, timeout=options.seconds + 60, check=False
        )
    line = next((x for x in done.stdout.splitlines() if x.startswith("STRESS_WRK ")), None)
    if line is None:
        raise ApiError(f"wrk gave no summary (exit {done.returncode}): {done.stderr[-500:]}")
    data = json.loads(line.removeprefix("STRESS_WRK "))
    return Measurement(
        target=target,
        engine="wrk",
        seconds=data["durationUs"] / 1e6,
        codes={str(k): v for k, v in data["codes"].items()},
        errors=int(data["errors"]),
        p50_ms=round(data["p50Us"] / 1000, 2),
        p99_ms=round(data["p99Us"] / 1000, 2),
        max_ms=round(data["maxUs"] / 1000, 2),
        expected_code=expected,
    )


def format_ceiling(result: CeilingResult) -> str:
    lines = ["CEILING (closed loop, keep-alive connections)"]
    for m in (result.status, result.purchase):
        lines.append(
            f"  {m.target:<9} {m.per_second:>9} answers {m.expected_code}/s over {m.seconds:.1f} s "
            f"({m.engine}); p50 {m.p50_ms} ms, p99 {m.p99_ms} ms, max {m.max_ms} ms; "
            f"codes {m.codes}, errors {m.errors}"
        )
        if m.server_cpu_per_answer_us is not None:
            cores = os.cpu_count() or 1
            share = m.server_cpu_s / (m.seconds * cores) if m.seconds > 0 else 0.0
            lines.append(
                f"  {'':<9} server CPU {m.server_cpu_s} s, {m.server_cpu_per_answer_us} µs per "
                f"answer ({share:.0%} of this host's {cores} cores)"
            )
    ratio = "n/a" if result.ratio is None else f"{result.ratio:.1%}"
    lines.append(
        f"  purchase / status throughput: {ratio}  (every purchase a durable sale: "
        f"{result.purchase.good} 201s, status sold +{result.sold_increase}"
        f"{'' if result.durable else ' - MISMATCH'})"
    )
    cost = result.cost_ratio
    if cost is not None:
        lines.append(
            f"  a purchase costs the server {cost:.2f}x the CPU of a status read "
            f"(given the same CPU, the ratio would be {1 / cost:.0%})"
        )
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)
