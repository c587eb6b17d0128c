/**
 * The sale form's waiting room: the operator ticks it on and types when the pre-queue
 * opens, whether it is shuffled at the start, how many are admitted a minute and for how
 * long; the API takes `queue: {opensAt, shuffle, admitPerMinute, admittedSeconds,
 * proofOfWork}` (absent: no queue). And a queue as the sale's summary says it.
 */
import { formatDateTime, formatNumber } from '../lib/format';
import type { QueueTerms } from '../lib/types';
import { formatSeconds } from './checkoutWindow';

export interface WaitingRoomDraft {
  on: boolean;
  /** A `datetime-local` value; empty: open from the sale's creation. */
  opensAt: string;
  shuffle: boolean;
  /** Empty: everyone admitted at the start. */
  admitPerMinute: string;
  admittedSeconds: string;
  proofOfWork: boolean;
}

export const ADMITTED_SECONDS_DEFAULT = 120;

export const NO_WAITING_ROOM: WaitingRoomDraft = {
  on: false,
  opensAt: '',
  shuffle: true,
  admitPerMinute: '',
  admittedSeconds: String(ADMITTED_SECONDS_DEFAULT),
  proofOfWork: false,
};

/** A whole number as typed; anything else as typed, for the server to name the field. */
function whole(text: string): number | string {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : text;
}

/** A `datetime-local` value (the browser's zone) as ISO-8601 UTC; '' is null. */
export function instant(local: string): string | null {
  if (!local) return null;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? local : date.toISOString();
}

/** The `queue` member of a new sale, or undefined (not sent: no waiting room). */
export function queueOf(draft: WaitingRoomDraft): Record<string, unknown> | undefined {
  if (!draft.on) return undefined;
  const admitted = draft.admittedSeconds.trim();
  return {
    opensAt: instant(draft.opensAt),
    shuffle: draft.shuffle,
    admitPerMinute: draft.admitPerMinute.trim() ? whole(draft.admitPerMinute) : null,
    admittedSeconds: admitted ? whole(admitted) : ADMITTED_SECONDS_DEFAULT,
    proofOfWork: draft.proofOfWork,
  };
}

/**
 * "opens 24 Nov 2026, 14:00:00, shuffled at the start, 600 admitted a minute, 2 min to
 * buy, proof of work to join", or "none".
 */
export function describeQueue(queue: QueueTerms | null | undefined): string {
  if (!queue) return 'none';
  return [
    queue.opensAt ? `opens ${formatDateTime(queue.opensAt)}` : 'open from creation',
    queue.shuffle ? 'shuffled at the start' : 'in arrival order',
    queue.admitPerMinute ? `${formatNumber(queue.admitPerMinute)} admitted a minute` : 'all admitted at the start',
    `${formatSeconds(queue.admittedSeconds)} to buy`,
    ...(queue.proofOfWork ? ['proof of work to join'] : []),
  ].join(', ');
}
