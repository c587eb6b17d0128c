/**
 * The sale's status pushed by GET /flash-sale/events (an EventSource), and what the
 * page should do meanwhile: `onMode` says whether the stream is live, whether it is
 * (re)connecting, or whether the page should poll instead.
 *
 * The stream stays open while the tab is hidden. An idle stream costs the server
 * about 13 KiB and no CPU, a hidden tab is often a shopper waiting for the start,
 * and closing hidden streams would bring every such tab back at the same moment,
 * the start, when the server is busiest. The server bounds the streams it holds
 * (FLASHSALE_MAX_EVENT_STREAMS); pages it refuses poll, and polling does pause
 * while hidden (usePoller).
 */
import { parseStatusEvent, STATUS_EVENTS_URL, type StatusSnapshot } from './api';

export type LiveMode = 'connecting' | 'live' | 'polling';

/** A stream that delivers nothing for this long (reconnecting, or held back by a proxy) is backed by polling. */
export const STALL_MS = 3000;
/**
 * After a refusal (a 503: the server holds as many streams as it may, or is starting),
 * ask again RETRY_MS ± RETRY_JITTER_MS later: pages that fell back together (a worker
 * restart) come back spread out, and a full server sees one refused stream per page
 * every half minute against thirty polls.
 */
export const RETRY_MS = 30_000;
export const RETRY_JITTER_MS = 10_000;

export const canStream = () => typeof EventSource !== 'undefined';

/** Open the stream; returns the function that closes it for good. */
export function openStatusStream(
  onStatus: (snapshot: StatusSnapshot) => void,
  onMode: (mode: LiveMode) => void,
): () => void {
  if (!canStream()) return () => undefined;
  let source: EventSource | null = null;
  let mode: LiveMode = 'connecting';
  let stallTimer: number | undefined;
  let retryTimer: number | undefined;

  const setMode = (next: LiveMode) => {
    if (next === mode) return;
    mode = next;
    onMode(next);
  };

  const pollUnlessDelivered = () => {
    window.clearTimeout(stallTimer);
    stallTimer = window.setTimeout(() => setMode('polling'), STALL_MS);
  };

  const onStatusEvent = (event: MessageEvent<string>) => {
    const snapshot = parseStatusEvent(event.data);
    if (!snapshot) {
      console.warn('Ignored a status event that is not a sale status.');
      return;
    }
    window.clearTimeout(stallTimer);
    setMode('live');
    onStatus(snapshot);
  };

  const onError = () => {
    if (source?.readyState === EventSource.CLOSED) {
      // Refused (a non-200 answer): EventSource gives up for good. Poll, ask again later.
      source.close();
      source = null;
      window.clearTimeout(stallTimer);
      setMode('polling');
      const delayMs = RETRY_MS + (Math.random() * 2 - 1) * RETRY_JITTER_MS;
      retryTimer = window.setTimeout(connect, delayMs);
    } else if (mode === 'live') {
      // Cut off: EventSource reconnects by itself. Say so, and poll if that takes long.
      setMode('connecting');
      pollUnlessDelivered();
    }
  };

  function connect() {
    source = new EventSource(STATUS_EVENTS_URL);
    source.addEventListener('status', onStatusEvent);
    source.addEventListener('error', onError);
    // A retry while polling keeps polling until the stream delivers.
    if (mode === 'connecting') pollUnlessDelivered();
  }

  connect();
  return () => {
    window.clearTimeout(stallTimer);
    window.clearTimeout(retryTimer);
    source?.close();
    source = null;
  };
}
