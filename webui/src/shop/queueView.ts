/**
 * What the shop page makes of a sale's waiting room for one shopper: from the queue
 * everyone sees (the status stream's `queue`), this shopper's ticket and the server's
 * clock, which of the waiting room's moments it is. Pure: the panel words it, the hook
 * (useQueue) reads the ticket again when the view says so (`due`, `drawing`).
 *
 * The stream pushes "now serving" in its heartbeats' place (within the status's
 * `heartbeatSeconds`), not at each admission: between two pushes the page moves it on
 * at the rate itself.
 */
import { formatNumber } from '../lib/format';
import type { QueueStatus, QueueTicket, SaleState } from '../lib/types';

export type QueueView =
  /** The sale has no queue: Buy as usual. */
  | { kind: 'off' }
  /** No ticket, and the pre-queue opens at `opensAt` (server time). */
  | { kind: 'not_open'; opensAt: string; opensInMs: number }
  /** No ticket: Buy is replaced by Join the queue. */
  | { kind: 'join' }
  /** In the pre-queue: the place is drawn at the start. */
  | { kind: 'prequeue' }
  /** The start came; this ticket's place is not read yet. */
  | { kind: 'drawing' }
  /** `ahead` places before this one are not admitted yet; `waitMinutes` (until this one
   * is) null: no rate. */
  | { kind: 'waiting'; place: number; ahead: number; waitMinutes: number | null }
  /**
   * Now serving reached this place: its admission is being read. `sure`: the server
   * said so (the stream's serving, or the ticket's); else the page's estimate between
   * two pushes did, and Buy waits for the ticket's answer.
   */
  | { kind: 'due'; place: number; sure: boolean }
  /** Admitted: buy within `leftMs` (until `admittedUntil`, server time; null: not said). */
  | { kind: 'turn'; leftMs: number | null }
  /** The admission ran out unused. */
  | { kind: 'lapsed' }
  /** The admission was used: a purchase was made with it. */
  | { kind: 'used' }
  /** Sold out or ended: nobody more is admitted. */
  | { kind: 'closed' };

const OVER: readonly SaleState[] = ['sold_out', 'ended'];

/**
 * "Now serving" at `nowMs`, from the queue as the status read at `statusAtMs` (both on
 * the server's clock) said it: moved on at the admission rate, no further than the
 * admissions of `pushEveryS` seconds (the next push, within that, says where it is),
 * nor past the last ticket.
 */
export function servingEstimate(queue: QueueStatus, statusAtMs: number, nowMs: number, pushEveryS: number): number {
  const rate = queue.admitPerMinute;
  if (queue.state !== 'admitting' || !rate || Number.isNaN(statusAtMs)) return queue.serving;
  const moved = Math.floor((Math.max(0, nowMs - statusAtMs) / 60_000) * rate);
  const step = Math.max(1, Math.floor((rate * pushEveryS) / 60));
  return Math.max(queue.serving, Math.min(queue.serving + Math.min(moved, step), queue.length));
}

/**
 * `nowMs`: the server's clock (this browser's plus the offset). `ticket`: this shopper's
 * in this sale, as last read, or null. `statusAtMs`: when the status was read (its
 * `serverTime`); NaN: take its serving as it is. `pushEveryS`: its `heartbeatSeconds`.
 */
export function queueView(
  queue: QueueStatus | null | undefined,
  saleState: SaleState | undefined,
  ticket: QueueTicket | null,
  nowMs: number,
  statusAtMs = Number.NaN,
  pushEveryS = 0,
): QueueView {
  if (!queue) return { kind: 'off' };
  // A purchase made with it says more than the sell-out it may have caused.
  if (ticket?.state === 'used') return { kind: 'used' };
  const closed = queue.state === 'closed' || (saleState !== undefined && OVER.includes(saleState));
  if (closed || ticket?.state === 'closed') return { kind: 'closed' };
  if (ticket === null) {
    const opensAtMs = queue.opensAt ? Date.parse(queue.opensAt) : Number.NaN;
    if (queue.opensAt && opensAtMs > nowMs) {
      return { kind: 'not_open', opensAt: queue.opensAt, opensInMs: opensAtMs - nowMs };
    }
    return { kind: 'join' };
  }
  switch (ticket.state) {
    case 'lapsed':
      return { kind: 'lapsed' };
    case 'admitted': {
      const untilMs = ticket.admittedUntil ? Date.parse(ticket.admittedUntil) : Number.NaN;
      if (Number.isNaN(untilMs)) return { kind: 'turn', leftMs: null };
      // Never more than a turn lasts: a clock read a moment late would show 2:01.
      const leftMs = Math.min(untilMs - nowMs, queue.admittedSeconds * 1000);
      return leftMs > 0 ? { kind: 'turn', leftMs } : { kind: 'lapsed' };
    }
    case 'prequeue':
      return queue.state === 'prequeue' ? { kind: 'prequeue' } : { kind: 'drawing' };
    case 'waiting': {
      if (ticket.place === null) return { kind: 'drawing' };
      // What the server said (the status or the ticket, whichever is newer), then what
      // the rate says since.
      const known = Math.max(queue.serving, ticket.serving);
      if (ticket.place <= known) return { kind: 'due', place: ticket.place, sure: true };
      const serving = Math.max(known, servingEstimate(queue, statusAtMs, nowMs, pushEveryS));
      if (ticket.place <= serving) return { kind: 'due', place: ticket.place, sure: false };
      // Those before this place not admitted yet (the ticket's `ahead`), and the time
      // until this one is, at the rate (the ticket's `estimatedWaitSeconds`).
      const ahead = ticket.place - serving - 1;
      const rate = queue.admitPerMinute;
      const waitMinutes = rate ? (ticket.place - serving) / rate : null;
      return { kind: 'waiting', place: ticket.place, ahead, waitMinutes };
    }
  }
}

/** "less than a minute", "about 3 minutes", "about 1 h 20 min". */
export function formatWait(minutes: number): string {
  if (minutes < 1) return 'less than a minute';
  const rounded = Math.round(minutes);
  if (rounded < 60) return rounded === 1 ? 'about 1 minute' : `about ${rounded} minutes`;
  const hours = Math.floor(rounded / 60);
  const rest = rounded % 60;
  return rest === 0 ? `about ${formatNumber(hours)} h` : `about ${formatNumber(hours)} h ${rest} min`;
}

/** "You are in the queue: 1,204 ahead of you, about 3 minutes"; "You are next in the queue". */
export function waitingTitle(ahead: number, waitMinutes: number | null): string {
  const wait = waitMinutes === null ? '' : `, ${formatWait(waitMinutes)}`;
  if (ahead === 0) return `You are next in the queue${wait}`;
  return `You are in the queue: ${formatNumber(ahead)} ahead of you${wait}`;
}
