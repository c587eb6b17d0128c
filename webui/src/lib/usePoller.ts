import { useCallback, useEffect, useRef } from 'react';

export const MAX_BACKOFF_MS = 10_000;

/**
 * Run `poll` now and then every `intervalMs`, one call at a time, doubling the
 * pause after failures (up to MAX_BACKOFF_MS) and pausing while the tab is
 * hidden: thousands of open pages must not become thousands of busy pollers.
 * `poll` resolves true on success. Returns a function that polls at once, also
 * while not `enabled` (then once, without a schedule after it).
 */
export function usePoller(
  poll: (signal: AbortSignal) => Promise<boolean>,
  intervalMs: number,
  enabled = true,
): () => void {
  const pollRef = useRef(poll);
  const triggerRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    pollRef.current = poll;
  }, [poll]);

  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    let inFlight = false;
    let again = false;
    let failures = 0;

    const schedule = (delayMs: number) => {
      window.clearTimeout(timer);
      if (controller.signal.aborted || document.hidden) return;
      timer = window.setTimeout(tick, delayMs);
    };

    async function tick() {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      let ok = false;
      try {
        ok = await pollRef.current(controller.signal);
      } catch (error) {
        console.error(error);
      }
      inFlight = false;
      if (controller.signal.aborted) return;
      failures = ok ? 0 : failures + 1;
      const delay = failures === 0 ? intervalMs : Math.min(intervalMs * 2 ** failures, MAX_BACKOFF_MS);
      if (again) schedule(0);
      else if (enabled) schedule(delay);
      again = false;
    }

    const onVisibility = () => {
      if (document.hidden) window.clearTimeout(timer);
      else if (enabled) schedule(0);
    };

    triggerRef.current = () => schedule(0);
    document.addEventListener('visibilitychange', onVisibility);
    if (enabled) void tick();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
      triggerRef.current = () => undefined;
    };
  }, [intervalMs, enabled]);

  return useCallback(() => triggerRef.current(), []);
}
