import { useCallback, useEffect, useRef, useState } from 'react';
import { pollStatus, type StatusSnapshot } from './api';
import { canStream, openStatusStream, type LiveMode } from './statusStream';
import type { SaleStatus } from './types';
import { usePoller } from './usePoller';

export const STATUS_POLL_MS = 1000;

export interface LiveStatusView {
  status: SaleStatus | null;
  /** Server clock minus this browser's clock. */
  clockOffsetMs: number;
  /** `live`: pushed by the stream; `polling`: asked for every `intervalMs`. */
  mode: LiveMode;
  /** Set while polling fails; the last known status stays on screen. */
  problem: string | null;
  /** Ask at once, also while live (after a purchase, when the countdown reaches zero). */
  refresh: () => void;
}

const readAtMs = (snapshot: StatusSnapshot) => Date.parse(snapshot.status.serverTime);

/**
 * The sale status, pushed by /flash-sale/events while the server admits the stream,
 * else polled with If-None-Match so an unchanged sale costs a 304 (see statusStream).
 */
export function useLiveStatus(intervalMs = STATUS_POLL_MS): LiveStatusView {
  const [snapshot, setSnapshot] = useState<StatusSnapshot | null>(null);
  const [mode, setMode] = useState<LiveMode>(canStream() ? 'connecting' : 'polling');
  const [problem, setProblem] = useState<string | null>(null);
  const etagRef = useRef<string | null>(null);

  // The latest read wins: a poll answered just after an event may have been read before it.
  const show = useCallback((next: StatusSnapshot) => {
    setSnapshot((shown) => (shown && readAtMs(next) < readAtMs(shown) ? shown : next));
  }, []);

  useEffect(
    () =>
      openStatusStream((next) => {
        setProblem(null);
        show(next);
      }, setMode),
    [show],
  );

  const poll = useCallback(
    async (signal: AbortSignal) => {
      const result = await pollStatus(etagRef.current, signal);
      if (signal.aborted) return false;
      if (result.kind === 'error') {
        setProblem(result.detail);
        return false;
      }
      setProblem(null);
      if (result.kind === 'fresh') {
        etagRef.current = result.etag;
        show({ status: result.status, clockOffsetMs: result.clockOffsetMs });
      }
      return true;
    },
    [show],
  );

  const refresh = usePoller(poll, intervalMs, mode === 'polling');
  return {
    status: snapshot?.status ?? null,
    clockOffsetMs: snapshot?.clockOffsetMs ?? 0,
    mode,
    // A refresh that failed while live is no interruption: the stream still delivers.
    problem: mode === 'live' ? null : problem,
    refresh,
  };
}
