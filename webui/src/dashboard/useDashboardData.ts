import { useCallback, useState } from 'react';
import { fetchHealth, fetchMetrics } from '../lib/api';
import { rememberOperatorToken, rememberedOperatorToken } from '../lib/storage';
import type { Health, ProblemType } from '../lib/types';
import { usePoller } from '../lib/usePoller';
import { appendSample, type Sample } from './series';

export const DASHBOARD_POLL_MS = 1000;
const INVALID_TOKEN: ProblemType = '/problems/invalid-token';

/** `missing`: the server wants an operator token; `wrong`: the one given was refused. */
export type TokenNeed = 'missing' | 'wrong' | null;

export interface DashboardData {
  samples: Sample[];
  health: Health | null;
  problem: string | null;
  tokenNeed: TokenNeed;
  /** Use this operator token from now on (kept for this tab). */
  giveToken: (token: string) => void;
}

/** Metrics and health, sampled every second; the last minute of samples is kept. */
export function useDashboardData(intervalMs = DASHBOARD_POLL_MS): DashboardData {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [health, setHealth] = useState<Health | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [token, setToken] = useState<string | null>(rememberedOperatorToken);
  const [tokenNeed, setTokenNeed] = useState<TokenNeed>(null);

  const poll = useCallback(
    async (signal: AbortSignal) => {
      const [metrics, healthAnswer] = await Promise.all([fetchMetrics(token), fetchHealth(token)]);
      if (signal.aborted) return false;
      if (healthAnswer.ok) setHealth(healthAnswer.value);
      if (metrics.ok) {
        const sample = { atMs: Date.now(), metrics: metrics.value };
        setSamples((previous) => appendSample(previous, sample));
      }
      // RFC 6750: 401 for no token and for a wrong one; the problem's type tells which.
      const refused = !metrics.ok && metrics.status === 401;
      setTokenNeed(refused ? (metrics.problem === INVALID_TOKEN ? 'wrong' : 'missing') : null);
      if (refused) {
        // Not an interruption: the form says what is needed, and polling waits for it.
        setProblem(null);
        return true;
      }
      const failed = !metrics.ok ? metrics.detail : !healthAnswer.ok ? healthAnswer.detail : null;
      setProblem(failed);
      return failed === null;
    },
    [token],
  );

  // Stopped while a token is needed; a new token starts it again, polling at once.
  usePoller(poll, intervalMs, tokenNeed === null);
  const giveToken = useCallback((next: string) => {
    rememberOperatorToken(next);
    setToken(next);
    setTokenNeed(null);
  }, []);
  return { samples, health, problem, tokenNeed, giveToken };
}
