/**
 * Turn consecutive /flash-sale/metrics samples into chart series. The server's
 * counters are cumulative, so a rate is (count now - count before) / seconds between
 * the samples; a counter that went down means the server restarted, and that
 * step has no rate (a gap in the line) rather than a negative one.
 */
import { OUTCOME_KINDS, type Metrics, type OutcomeKind, type ProcessInfo } from '../lib/types';

export interface Sample {
  /** Browser clock when the sample arrived, ms. */
  atMs: number;
  metrics: Metrics;
}

export const HISTORY_SAMPLES = 61;

export function appendSample(samples: Sample[], sample: Sample, max = HISTORY_SAMPLES): Sample[] {
  const next = [...samples, sample];
  return next.length > max ? next.slice(next.length - max) : next;
}

function perSecond(before: number | undefined, after: number | undefined, seconds: number) {
  if (before === undefined || after === undefined || seconds <= 0 || after < before) return null;
  return (after - before) / seconds;
}

function restarted(before: Metrics, after: Metrics): boolean {
  return after.uptimeSeconds < before.uptimeSeconds;
}

/** Rates between sample i-1 and i, for i = 1..n-1 (one fewer point than samples). */
export function outcomeRates(samples: Sample[]): Record<OutcomeKind, (number | null)[]> {
  const rates = Object.fromEntries(OUTCOME_KINDS.map((kind) => [kind, []])) as unknown as Record<
    OutcomeKind,
    (number | null)[]
  >;
  for (let i = 1; i < samples.length; i += 1) {
    const before = samples[i - 1]!;
    const after = samples[i]!;
    const seconds = (after.atMs - before.atMs) / 1000;
    const reset = restarted(before.metrics, after.metrics);
    for (const kind of OUTCOME_KINDS) {
      rates[kind].push(
        reset
          ? null
          : perSecond(before.metrics.outcomes[kind] ?? 0, after.metrics.outcomes[kind] ?? 0, seconds),
      );
    }
  }
  return rates;
}

export function requestRates(samples: Sample[]): (number | null)[] {
  const rates: (number | null)[] = [];
  for (let i = 1; i < samples.length; i += 1) {
    const before = samples[i - 1]!;
    const after = samples[i]!;
    const seconds = (after.atMs - before.atMs) / 1000;
    rates.push(
      restarted(before.metrics, after.metrics)
        ? null
        : perSecond(before.metrics.requests.total, after.metrics.requests.total, seconds),
    );
  }
  return rates;
}

export type Percentile = 'p50' | 'p95' | 'p99';
export const PERCENTILES: Percentile[] = ['p50', 'p95', 'p99'];

/** Latency percentiles as the server reports them, aligned with the rate series. */
export function latencySeries(samples: Sample[]): Record<Percentile, (number | null)[]> {
  const tail = samples.slice(1);
  const pick = (key: Percentile) =>
    tail.map(({ metrics }) => {
      const value = metrics.latencyMs?.[key];
      return typeof value === 'number' && Number.isFinite(value) ? value : null;
    });
  return { p50: pick('p50'), p95: pick('p95'), p99: pick('p99') };
}

/** CPU times count in 10 ms ticks: over a shorter span a share would be mostly rounding. */
const MIN_LOAD_SPAN_S = 0.5;

export interface ProcessLoad extends ProcessInfo {
  /** Cores' worth of CPU over the last two samples (1 = one core busy); null for a new process. */
  cores: number | null;
}

/**
 * Each server process of the latest sample, with its CPU use since the sample before.
 * The seconds between come from the server's uptime, read with the CPU times, not
 * from the browser's clock, which a busy tab (or a headless one) may not keep.
 */
export function processLoads(samples: Sample[]): ProcessLoad[] {
  const after = samples.at(-1);
  if (!after) return [];
  const before = samples.at(-2);
  const span = before ? after.metrics.uptimeSeconds - before.metrics.uptimeSeconds : 0;
  const seconds = span >= MIN_LOAD_SPAN_S ? span : 0;
  const earlier = new Map((before?.metrics.processes ?? []).map((p) => [p.pid, p.cpuSeconds]));
  return (after.metrics.processes ?? []).map((process) => ({
    ...process,
    cores: perSecond(earlier.get(process.pid), process.cpuSeconds, seconds),
  }));
}
