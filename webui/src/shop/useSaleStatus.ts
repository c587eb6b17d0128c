import { useCallback, useRef, useState } from 'react';
import { pollStatus } from '../lib/api';
import type { SaleStatus } from '../lib/types';
import { usePoller } from '../lib/usePoller';

export const STATUS_POLL_MS = 1000;

export interface SaleStatusView {
  status: SaleStatus | null;
  /** Server clock minus this browser's clock, from the last full answer. */
  clockOffsetMs: number;
  /** Set while the last poll failed; the last known status stays on screen. */
  problem: string | null;
  /** Poll now (after a purchase, when the countdown reaches zero). */
  refresh: () => void;
}

/** The live sale status, polled with If-None-Match so an unchanged sale costs a 304. */
export function useSaleStatus(intervalMs = STATUS_POLL_MS): SaleStatusView {
  const [status, setStatus] = useState<SaleStatus | null>(null);
  const [clockOffsetMs, setClockOffsetMs] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);
  const etagRef = useRef<string | null>(null);

  const poll = useCallback(async (signal: AbortSignal) => {
    const result = await pollStatus(etagRef.current, signal);
    if (signal.aborted) return false;
    if (result.kind === 'error') {
      setProblem(result.detail);
      return false;
    }
    setProblem(null);
    if (result.kind === 'fresh') {
      etagRef.current = result.etag;
      setStatus(result.status);
      setClockOffsetMs(result.clockOffsetMs);
    }
    return true;
  }, []);

  const refresh = usePoller(poll, intervalMs);
  return { status, clockOffsetMs, problem, refresh };
}
