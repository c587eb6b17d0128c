/**
 * The browser side of a sale's waiting room: joining the queue (one ticket a person:
 * joining again answers the same ticket), and reading a ticket's place and state.
 * A purchase carries the admitted ticket (api.ts `purchase`).
 */
import {
  API_BASE,
  type Buyer,
  buyerHeaders,
  detailOf,
  type JsonObject,
  networkProblem,
  readJson,
  text,
  timeoutSignal,
} from './api';
import type { QueueTicket, QueueTicketState } from './types';

/** GET: an ALTCHA challenge, for a queue that asks for proof of work. */
export const QUEUE_CHALLENGE_URL = `${API_BASE}/queue/challenge`;

const TICKET_STATES: readonly QueueTicketState[] = ['prequeue', 'waiting', 'admitted', 'used', 'lapsed', 'closed'];

const count = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const instant = (value: unknown): string | null => (typeof value === 'string' && value ? value : null);

/** A ticket body, or null when the answer is not one. */
export function ticketOf(body: JsonObject): QueueTicket | null {
  const ticket = text(body, 'ticket');
  const state = TICKET_STATES.find((known) => known === body.state);
  if (!ticket || !state) return null;
  return {
    ticket,
    saleId: count(body.saleId) ?? 0,
    number: count(body.number) ?? 0,
    userId: text(body, 'userId'),
    state,
    place: count(body.place),
    ahead: count(body.ahead),
    serving: count(body.serving) ?? 0,
    estimatedWaitSeconds: count(body.estimatedWaitSeconds),
    admittedUntil: instant(body.admittedUntil),
    joinedAt: text(body, 'joinedAt'),
  };
}

/** Why joining was refused, by the problem's type. */
export type JoinRefusal =
  /** The sale has no queue (any more). */
  | 'no_queue'
  /** Before the queue's `opensAt`. */
  | 'not_open'
  /** Sold out or ended: nobody more is admitted. */
  | 'closed'
  /** The queue asks for an ALTCHA solution: none came, or it did not verify. */
  | 'proof_required'
  | 'proof_invalid'
  | 'invalid';

export type JoinResult =
  /** `created`: a new ticket (201); else this person's ticket, joined before (200). */
  | { kind: 'joined'; ticket: QueueTicket; created: boolean }
  | { kind: 'refused'; refusal: JoinRefusal; detail: string }
  /** 401 (jwt mode): no token, or one the server does not accept. */
  | { kind: 'unauthorized'; detail: string }
  | { kind: 'error'; detail: string };

const REFUSALS: Record<string, JoinRefusal> = {
  'no-queue': 'no_queue',
  'queue-not-open': 'not_open',
  'queue-closed': 'closed',
  'proof-of-work-required': 'proof_required',
  'proof-of-work-invalid': 'proof_invalid',
};

function refusalOf(status: number, body: JsonObject): JoinRefusal | null {
  const slug = text(body, 'type').split('/').pop() ?? '';
  const named = REFUSALS[slug];
  if (named) return named;
  if (status === 400 || status === 413 || status === 415 || status === 422) return 'invalid';
  return null;
}

/**
 * POST /flash-sale/queue as `buyer` (open mode: the user id; jwt mode: the token's
 * subject), with the solved ALTCHA payload when the queue asks for proof of work.
 */
export async function joinQueue(buyer: Buyer, altcha: string | null = null): Promise<JoinResult> {
  const body: Record<string, string> = 'token' in buyer ? {} : { userId: buyer.userId };
  if (altcha !== null) body.altcha = altcha;
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/queue`, {
      method: 'POST',
      headers: buyerHeaders(buyer, { 'Content-Type': 'application/json', Accept: 'application/json' }),
      body: JSON.stringify(body),
      cache: 'no-store',
      signal: timeoutSignal(),
    });
  } catch (error) {
    return { kind: 'error', detail: networkProblem(error) };
  }
  const answer = await readJson(response);
  if (response.status === 200 || response.status === 201) {
    const ticket = ticketOf(answer);
    if (ticket) return { kind: 'joined', ticket, created: response.status === 201 };
  }
  if (response.status === 401) {
    return { kind: 'unauthorized', detail: detailOf(answer) || 'The shop needs you to sign in.' };
  }
  const refusal = refusalOf(response.status, answer);
  if (refusal) return { kind: 'refused', refusal, detail: detailOf(answer) };
  return { kind: 'error', detail: detailOf(answer) || `The shop answered ${response.status}.` };
}

export type TicketRead =
  | { kind: 'ticket'; ticket: QueueTicket }
  /** 403 (its signature does not verify) or 404 (no such ticket): forget it. */
  | { kind: 'gone'; detail: string }
  | { kind: 'error'; detail: string };

/** GET /flash-sale/queue/{ticket}: its place, state and admission. */
export async function readTicket(ticket: string): Promise<TicketRead> {
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/queue/${encodeURIComponent(ticket)}`, {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      signal: timeoutSignal(),
    });
  } catch (error) {
    return { kind: 'error', detail: networkProblem(error) };
  }
  const body = await readJson(response);
  if (response.status === 200) {
    const read = ticketOf(body);
    if (read) return { kind: 'ticket', ticket: read };
  }
  if (response.status === 403 || response.status === 404) return { kind: 'gone', detail: detailOf(body) };
  return { kind: 'error', detail: detailOf(body) || `The shop answered ${response.status}.` };
}
