import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { Buyer, JsonObject } from '../lib/api';
import { joinQueue, type JoinResult, readTicket, ticketOf } from '../lib/queueApi';
import type { QueueTicket, SaleStatus } from '../lib/types';
import { useNow } from '../lib/useNow';
import { queueView, type QueueView, servingEstimate } from './queueView';

/**
 * This shopper's place in a sale's waiting room. The ticket is kept in localStorage per
 * sale and person, so every tab of the same person shows (and buys with) the same ticket,
 * as the server answers a second join with it anyway. The page follows the queue's
 * "now serving" on the status stream, and reads its ticket only when that says
 * something changed for it: at the start (its place is drawn) and at its turn.
 */
const KEY = 'flashsale.queueTicket';
/**
 * While a read is due (the place drawn, the turn come) and the answer does not show it
 * yet: again after this, doubling up to TICKET_RETRY_MAX_MS (a queue held still, e.g.
 * paused, is not polled by every page in it).
 */
export const TICKET_RETRY_MS = 2000;
export const TICKET_RETRY_MAX_MS = 30_000;
/**
 * The first read of a place drawn or a turn come is spread over this long: at the start
 * every page in the pre-queue would otherwise read its ticket in the same instant (and,
 * with everyone admitted at once, again). Buy is on at a turn meanwhile.
 */
export const READ_SPREAD_MS = 1000;

export const ticketKey = (saleId: number, who: string) => `${KEY}.${saleId}.${who}`;

// Storage disabled (private mode): the ticket then lasts as long as the page.
const memory = new Map<string, string>();
const listeners = new Set<() => void>();

function storedText(key: string | null): string | null {
  if (key === null) return null;
  try {
    return window.localStorage.getItem(key) ?? memory.get(key) ?? null;
  } catch {
    return memory.get(key) ?? null;
  }
}

function store(key: string, ticket: QueueTicket | null): void {
  memory.delete(key);
  try {
    if (ticket) window.localStorage.setItem(key, JSON.stringify(ticket));
    else window.localStorage.removeItem(key);
  } catch {
    if (ticket) memory.set(key, JSON.stringify(ticket));
  }
  for (const listener of listeners) listener();
}

/** This tab's writes, and (the `storage` event) the other tabs'. */
function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('storage', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', listener);
  };
}

function parsed(text: string | null): QueueTicket | null {
  if (!text) return null;
  try {
    const body: unknown = JSON.parse(text);
    return body !== null && typeof body === 'object' ? ticketOf(body as JsonObject) : null;
  } catch {
    return null;
  }
}

export interface Queue {
  view: QueueView;
  /** Now serving as the page reckons it: the server's, moved on at the rate since. */
  serving: number;
  ticket: QueueTicket | null;
  /** The admitted ticket a purchase sends; null while not this shopper's turn. */
  admittedTicket: string | null;
  joining: boolean;
  /** Joining needs an ALTCHA solution. */
  proofOfWork: boolean;
  /** Why the last join did not go through. */
  problem: string | null;
  /** Join as `buyer`, with the solved ALTCHA payload when the queue asks for one. */
  join: (buyer: Buyer, proof: string | null) => Promise<JoinResult>;
  /** Read the ticket again (after a purchase: it is used). */
  reread: () => void;
}

/**
 * `who`: the person the page joins as (the user id typed, or the signed-in subject),
 * null until known. `clockOffsetMs`: server clock minus this browser's.
 */
export function useQueue(status: SaleStatus | null, clockOffsetMs: number, who: string | null): Queue {
  const queue = status?.queue ?? null;
  const saleId = status?.saleId ?? null;
  const key = queue && saleId !== null && who ? ticketKey(saleId, who) : null;
  const text = useSyncExternalStore(subscribe, () => storedText(key));
  const ticket = useMemo(() => parsed(text), [text]);
  const [joining, setJoining] = useState(false);
  const [problem, setProblem] = useState<{ key: string | null; detail: string } | null>(null);
  const [attempt, setAttempt] = useState<{ due: string | null; count: number }>({ due: null, count: 0 });

  // A countdown (the turn, the opening), or a place that moves between the pushes.
  const moving = queue?.state === 'admitting' && queue.admitPerMinute !== null && ticket?.state === 'waiting';
  const counting =
    queue !== null && (moving || ticket?.state === 'admitted' || (!ticket && queue.opensAt !== null));
  const now = useNow(250, counting);
  const statusAtMs = status ? Date.parse(status.serverTime) : Number.NaN;
  const pushEveryS = status?.heartbeatSeconds ?? 0;
  const view = queueView(queue, status?.state, ticket, now + clockOffsetMs, statusAtMs, pushEveryS);

  const read = useCallback(async (readKey: string, held: string) => {
    const answer = await readTicket(held);
    // Another tab may have joined or read meanwhile: only this ticket's answer is kept.
    if (parsed(storedText(readKey))?.ticket !== held) return;
    if (answer.kind === 'ticket') store(readKey, answer.ticket);
    else if (answer.kind === 'gone') store(readKey, null);
  }, []);

  const held = ticket?.ticket ?? null;
  const terminal = ticket?.state === 'used' || ticket?.state === 'closed';
  const latest = useRef({ held, terminal });
  useEffect(() => {
    latest.current = { held, terminal };
  });

  // Back to the page, or another person's id typed: their ticket may have moved meanwhile.
  useEffect(() => {
    const { held: known, terminal: done } = latest.current;
    if (key && known && !done) void read(key, known);
  }, [key, read]);

  // The start drew the places, or now serving reached this one: read it (again while
  // the answer lags the stream).
  const due = view.kind === 'drawing' || view.kind === 'due' ? view.kind : null;
  const tries = due !== null && attempt.due === due ? attempt.count : 0;
  useEffect(() => {
    if (due === null || !key || !held) return undefined;
    const spreadMs = tries === 0 ? Math.random() * READ_SPREAD_MS : 0;
    const retryMs = Math.min(TICKET_RETRY_MS * 2 ** tries, TICKET_RETRY_MAX_MS);
    const first = window.setTimeout(() => void read(key, held), spreadMs);
    const again = window.setTimeout(() => setAttempt({ due, count: tries + 1 }), spreadMs + retryMs);
    return () => {
      window.clearTimeout(first);
      window.clearTimeout(again);
    };
  }, [due, key, held, tries, read]);

  // The turn's time ran out on this page's clock: the server says whether it was used.
  const ranOut = view.kind === 'lapsed' && ticket?.state === 'admitted';
  useEffect(() => {
    if (ranOut && key && held) void read(key, held);
  }, [ranOut, key, held, read]);

  const join = useCallback(
    async (buyer: Buyer, proof: string | null): Promise<JoinResult> => {
      setJoining(true);
      setProblem(null);
      const result = await joinQueue(buyer, proof);
      setJoining(false);
      const joinedAs = 'userId' in buyer ? buyer.userId : who;
      if (result.kind === 'joined' && joinedAs) {
        store(ticketKey(result.ticket.saleId || (saleId ?? 0), joinedAs), result.ticket);
      } else if (result.kind === 'refused' || result.kind === 'error') {
        setProblem({ key, detail: result.detail || 'The shop did not let you join the queue.' });
      }
      return result;
    },
    [who, saleId, key],
  );

  const reread = useCallback(() => {
    const { held: known } = latest.current;
    if (key && known) void read(key, known);
  }, [key, read]);

  // The server said this place is admitted; not the page's estimate alone.
  const admittedTicket = held && (view.kind === 'turn' || (view.kind === 'due' && view.sure)) ? held : null;
  return {
    view,
    serving: queue ? Math.max(servingEstimate(queue, statusAtMs, now + clockOffsetMs, pushEveryS), ticket?.serving ?? 0) : 0,
    ticket,
    admittedTicket,
    joining,
    proofOfWork: queue?.proofOfWork ?? false,
    problem: problem && problem.key === key ? problem.detail : null,
    join,
    reread,
  };
}
