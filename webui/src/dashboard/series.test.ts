import { describe, expect, it } from 'vitest';
import type { Metrics } from '../lib/types';
import { linePath, niceCeiling, tickLabel } from './chartMath';
import { appendSample, latencySeries, outcomeRates, processLoads, requestRates, type Sample } from './series';

function metrics(uptimeSeconds: number, confirmed: number, total: number, p99 = 5): Metrics {
  return {
    uptimeSeconds,
    requests: { total, purchase: total },
    outcomes: { confirmed, sold_out: 0 },
    successRate: 1,
    latencyMs: { p50: 1, p95: 2, p99, max: 9 },
  } as unknown as Metrics;
}

const sample = (atMs: number, m: Metrics): Sample => ({ atMs, metrics: m });

describe('rates from cumulative counters', () => {
  it('divides the change by the seconds between samples', () => {
    const samples = [sample(0, metrics(10, 0, 0)), sample(2000, metrics(12, 10, 30))];
    expect(outcomeRates(samples).confirmed).toEqual([5]);
    expect(outcomeRates(samples).sold_out).toEqual([0]);
    expect(outcomeRates(samples).pending).toEqual([0]);
    expect(requestRates(samples)).toEqual([15]);
  });

  it('leaves a gap when the server restarted and its counters fell', () => {
    const samples = [
      sample(0, metrics(100, 50, 80)),
      sample(1000, metrics(1, 2, 3)),
      sample(2000, metrics(2, 4, 6)),
    ];
    expect(outcomeRates(samples).confirmed).toEqual([null, 2]);
    expect(requestRates(samples)).toEqual([null, 3]);
  });

  it('keeps only the latest samples', () => {
    let samples: Sample[] = [];
    for (let i = 0; i < 5; i += 1) samples = appendSample(samples, sample(i, metrics(i, i, i)), 3);
    expect(samples.map((s) => s.atMs)).toEqual([2, 3, 4]);
  });

  it('aligns latency with the rates', () => {
    const samples = [sample(0, metrics(1, 0, 0, 4)), sample(1000, metrics(2, 0, 0, 8))];
    expect(latencySeries(samples).p99).toEqual([8]);
  });
});

describe('process loads', () => {
  const withProcesses = (uptimeSeconds: number, processes: [number, number][]): Metrics =>
    ({
      ...metrics(uptimeSeconds, 0, 0),
      processes: processes.map(([pid, cpuSeconds]) => ({ role: 'worker', pid, cpuSeconds, residentBytes: 1 })),
    }) as Metrics;

  it('turns CPU seconds into cores busy between the last two samples', () => {
    // The browser's clock says 5 s passed, the server's 2 s: the server's is the one.
    const samples = [
      sample(0, withProcesses(100, [[1, 10], [2, 3]])),
      sample(5000, withProcesses(102, [[1, 11.5], [3, 0.2]])),
    ];
    // Worker 2 died and worker 3 replaced it: a new process has no rate yet.
    expect(processLoads(samples).map((p) => [p.pid, p.cores])).toEqual([
      [1, 0.75],
      [3, null],
    ]);
  });

  it('gives no share over a span too short for the CPU clock', () => {
    const samples = [sample(0, withProcesses(100, [[1, 10]])), sample(40, withProcesses(100.04, [[1, 10.01]]))];
    expect(processLoads(samples).map((p) => p.cores)).toEqual([null]);
  });

  it('is empty for a server that does not report its processes', () => {
    expect(processLoads([sample(0, metrics(1, 0, 0))])).toEqual([]);
    expect(processLoads([])).toEqual([]);
  });
});

describe('chart math', () => {
  it('rounds the axis up to a nice number', () => {
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(0.3)).toBe(0.5);
    expect(niceCeiling(7)).toBe(10);
    expect(niceCeiling(180)).toBe(200);
    expect(niceCeiling(230)).toBe(250);
  });

  it('labels grid lines exactly', () => {
    expect([0, 0.25, 0.5, 0.75, 1].map(tickLabel)).toEqual(['0', '0.25', '0.5', '0.75', '1']);
    expect([2.5, 12.5, 1250, 2000].map(tickLabel)).toEqual(['2.5', '12.5', '1.25k', '2k']);
  });

  it('draws from the right and breaks lines at gaps', () => {
    expect(linePath([1, null, 1], 5, 2, 400, 100)).toBe('M200.0,50.0M400.0,50.0');
    expect(linePath([0, 2], 2, 2, 100, 100)).toBe('M0.0,100.0L100.0,0.0');
  });
});
