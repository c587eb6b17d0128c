import { useCallback, useState } from 'react';
import { fetchHealth, fetchMetrics } from '../lib/api';
import type { Health } from '../lib/types';
import { usePoller } from '../lib/usePoller';
import { appendSample, type Sample } from './series';

export const DASHBOARD_POLL_MS = 1000;

export interface DashboardData {
  samples: Sample[];
  health: Health | null;
  problem: string | null;
}

/** Metrics and health, sampled every second; the last minute of samples is kept. */
export function useDashboardData(intervalMs = DASHBOARD_POLL_MS): DashboardData {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [health, setHealth] = useState<Health | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const poll = useCallback(async (signal: AbortSignal) => {
    const [metrics, healthAnswer] = await Promise.all([fetchMetrics(), fetchHealth()]);
    if (signal.aborted) return false;
    if (healthAnswer.ok) setHealth(healthAnswer.value);
    if (metrics.ok) {
      const sample = { atMs: Date.now(), metrics: metrics.value };
      setSamples((previous) => appendSample(previous, sample));
    }
    const failed = !metrics.ok ? metrics.detail : !healthAnswer.ok ? healthAnswer.detail : null;
    setProblem(failed);
    return failed === null;
  }, []);

  usePoller(poll, intervalMs);
  return { samples, health, problem };
}
