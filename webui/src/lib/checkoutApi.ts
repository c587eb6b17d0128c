/**
 * The browser side of a sale's checkout: paying for (confirming) a held unit with its
 * checkout token, joining a sold-out product's waitlist, and re-reading an entry with
 * its waitlist token (an offered entry brings the hold and its checkout token).
 */
import {
  API_BASE,
  type Buyer,
  buyerHeaders,
  detailOf,
  type JsonObject,
  networkProblem,
  orderOf,
  readJson,
  text,
  timeoutSignal,
} from './api';
import type { Hold, WaitlistState } from './types';

export type ConfirmResult =
  | { kind: 'confirmed'; paymentRef: string }
  /** Too late: the unit went to someone else; a payment taken must be refunded. */
  | { kind: 'expired'; detail: string }
  | { kind: 'cancelled'; detail: string }
  | { kind: 'error'; detail: string };

/** A demo payment reference: what a payment provider would return. */
export function demoPaymentRef(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `demo-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

async function post(path: string, token: string, body: JsonObject | null) {
  const response = await fetch(`${API_BASE}${path}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: 'application/json',
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : null,
    cache: 'no-store',
    signal: timeoutSignal(),
  });
  return { status: response.status, body: await readJson(response) };
}

/** POST /orders/{orderId}/confirm with the hold's checkout token. */
export async function confirmHold(hold: Hold, paymentRef: string): Promise<ConfirmResult> {
  let answer;
  try {
    answer = await post(`/orders/${encodeURIComponent(hold.order.orderId)}/confirm`, hold.checkoutToken, {
      paymentRef,
    });
  } catch (error) {
    return { kind: 'error', detail: networkProblem(error) };
  }
  const { status, body } = answer;
  if (status === 200) return { kind: 'confirmed', paymentRef: text(body, 'paymentRef') || paymentRef };
  const type = text(body, 'type');
  if (type.endsWith('/hold-expired')) return { kind: 'expired', detail: detailOf(body) };
  if (type.endsWith('/hold-cancelled')) return { kind: 'cancelled', detail: detailOf(body) };
  return { kind: 'error', detail: detailOf(body) || `The shop answered ${status}.` };
}

/** A waitlist entry as this tab knows it; `token` reads it again (kept for the tab). */
export interface WaitlistEntry {
  sku: string;
  place: number;
  state: WaitlistState;
  token: string;
}

export type JoinResult =
  | { kind: 'joined'; entry: WaitlistEntry }
  /** Joined before, from another tab: the place, but no token to follow it with. */
  | { kind: 'known'; sku: string; place: number; state: WaitlistState }
  | { kind: 'closed'; detail: string }
  | { kind: 'error'; detail: string };

function entryState(body: JsonObject): WaitlistState {
  const state = text(body, 'state');
  return state === 'offered' || state === 'closed' ? state : 'waiting';
}

/** POST /waitlist: join the product's waitlist (open while holds on it are outstanding). */
export async function joinWaitlist(buyer: Buyer, sku: string): Promise<JoinResult> {
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/waitlist`, {
      method: 'POST',
      headers: buyerHeaders(buyer, { 'Content-Type': 'application/json', Accept: 'application/json' }),
      body: JSON.stringify('token' in buyer ? { sku } : { userId: buyer.userId, sku }),
      cache: 'no-store',
      signal: timeoutSignal(),
    });
  } catch (error) {
    return { kind: 'error', detail: networkProblem(error) };
  }
  const body = await readJson(response);
  const place = typeof body.place === 'number' ? body.place : 0;
  if (response.status === 201) {
    const entry = { sku: text(body, 'sku') || sku, place, state: entryState(body) };
    return { kind: 'joined', entry: { ...entry, token: text(body, 'waitlistToken') } };
  }
  if (response.status === 200) return { kind: 'known', sku, place, state: entryState(body) };
  if (response.status === 409) return { kind: 'closed', detail: detailOf(body) };
  return { kind: 'error', detail: detailOf(body) || `The shop answered ${response.status}.` };
}

export type EntryRead =
  | { kind: 'entry'; place: number; state: WaitlistState; hold: Hold | null }
  | { kind: 'error'; detail: string };

/** GET /waitlist/{sku} with the entry's token; an offered entry brings its hold. */
export async function readWaitlistEntry(entry: WaitlistEntry, userId: string): Promise<EntryRead> {
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/waitlist/${encodeURIComponent(entry.sku)}`, {
      headers: { Authorization: `Bearer ${entry.token}`, Accept: 'application/json' },
      cache: 'no-store',
      signal: timeoutSignal(),
    });
  } catch (error) {
    return { kind: 'error', detail: networkProblem(error) };
  }
  const body = await readJson(response);
  if (response.status !== 200) {
    return { kind: 'error', detail: detailOf(body) || `The shop answered ${response.status}.` };
  }
  const place = typeof body.place === 'number' ? body.place : entry.place;
  const held = body.hold !== null && typeof body.hold === 'object' ? (body.hold as JsonObject) : null;
  let hold: Hold | null = null;
  if (held && text(held, 'state') === 'held') {
    // The hold shows its id, expiry and token; the rest of the order is the entry's.
    const order = orderOf({ orderId: text(held, 'orderId'), position: 0, userId, sku: entry.sku });
    if (order) {
      hold = { order, expiresAt: text(held, 'expiresAt'), checkoutToken: text(held, 'checkoutToken') };
    }
  }
  return { kind: 'entry', place, state: entryState(body), hold };
}
