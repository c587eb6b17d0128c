/**
 * The browser side of the flash-sale HTTP API: one function per endpoint, each
 * turning every answer (including network failures) into a typed value, so
 * components never see a raw Response or a thrown fetch error. Errors are problem
 * details (RFC 9457): `type`, `title`, `status` and `detail`; a purchase answer names
 * its `outcome`.
 */
import type {
  Health,
  LookupResult,
  Metrics,
  Order,
  ProblemType,
  PurchaseOutcome,
  SaleStatus,
} from './types';

export const API_BASE = '/flash-sale';
export const REQUEST_TIMEOUT_MS = 8000;
const DEFAULT_RETRY_AFTER_S = 1;

export type JsonObject = Record<string, unknown>;

export async function readJson(response: Response): Promise<JsonObject> {
  try {
    const body: unknown = await response.json();
    return body !== null && typeof body === 'object' ? (body as JsonObject) : {};
  } catch {
    return {};
  }
}

export function text(body: JsonObject, key: string): string {
  const value = body[key];
  return typeof value === 'string' ? value : '';
}

export function detailOf(body: JsonObject): string {
  return text(body, 'detail') || text(body, 'title');
}

export function orderOf(body: JsonObject): Order | null {
  const { orderId, userId, position, purchasedAt, saleId, sku } = body;
  if (typeof orderId !== 'string' || typeof position !== 'number') return null;
  return {
    orderId,
    userId: typeof userId === 'string' ? userId : '',
    position,
    purchasedAt: typeof purchasedAt === 'string' ? purchasedAt : '',
    saleId: typeof saleId === 'number' ? saleId : 0,
    // Older servers sell one unnamed product: no sku, which names no product ('').
    sku: typeof sku === 'string' ? sku : '',
  };
}

/** A look-up's every order: its `orders`, else (older servers) the one order of the body. */
function ordersOf(body: JsonObject, first: Order): Order[] {
  const listed = Array.isArray(body.orders) ? body.orders : [];
  const orders = listed
    .map((entry: unknown) =>
      entry !== null && typeof entry === 'object' ? orderOf(entry as JsonObject) : null,
    )
    .filter((order): order is Order => order !== null);
  return orders.length > 0 ? orders : [first];
}

/** A 410's waitlist (a sale with checkout): open while holds on the product are outstanding. */
function waitlistOf(body: JsonObject): { open: boolean; length: number } | null {
  const waitlist = body.waitlist;
  if (waitlist === null || typeof waitlist !== 'object') return null;
  const { open, length } = waitlist as JsonObject;
  return typeof open === 'boolean' ? { open, length: typeof length === 'number' ? length : 0 } : null;
}

/** Seconds to wait: the Retry-After header (seconds or a date), else 1. */
export function retryAfterSeconds(headers: Headers): number {
  const header = headers.get('Retry-After');
  if (header !== null) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds > 0) return Math.ceil(seconds);
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(1, Math.ceil((date - Date.now()) / 1000));
  }
  return DEFAULT_RETRY_AFTER_S;
}

export function timeoutSignal(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

export function networkProblem(error: unknown): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return 'The shop did not answer in time.';
  }
  return 'The shop could not be reached. Check your connection.';
}

/**
 * Who buys. Open mode: the user id typed. jwt mode: the shop's signed token, sent as
 * `Authorization: Bearer`; the server reads the buyer from it (its `sub`).
 */
export type Buyer = { userId: string } | { token: string };

export function buyerHeaders(buyer: Buyer, headers: Record<string, string>): Record<string, string> {
  return 'token' in buyer ? { ...headers, Authorization: `Bearer ${buyer.token}` } : headers;
}

/** The header a purchase carries its waiting-room ticket in (a sale with a queue). */
export const TICKET_HEADER = 'Flash-Sale-Ticket';

/**
 * `sku`: the product chosen; left out (null) only where the server has no catalogue
 * (older servers) or, by the contract, sells one product. `ticket`: the buyer's admitted
 * ticket, when the sale has a queue.
 */
export async function purchase(
  buyer: Buyer,
  sku: string | null = null,
  ticket: string | null = null,
): Promise<PurchaseOutcome> {
  const body: Record<string, string> = 'token' in buyer ? {} : { userId: buyer.userId };
  if (sku !== null) body.sku = sku;
  const headers = buyerHeaders(buyer, { 'Content-Type': 'application/json', Accept: 'application/json' });
  if (ticket !== null) headers[TICKET_HEADER] = ticket;
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/purchase`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      cache: 'no-store',
      signal: timeoutSignal(),
    });
  } catch (error) {
    return { kind: 'error', detail: networkProblem(error) };
  }
  const answer = await readJson(response);
  const detail = detailOf(answer);
  const outcome = text(answer, 'outcome');

  switch (response.status) {
    case 200:
    case 201: {
      const order = orderOf(answer);
      if (order && outcome === 'held') {
        // A sale with checkout: the unit is the buyer's until expiresAt unless paid.
        return {
          kind: 'held',
          hold: {
            order,
            expiresAt: text(answer, 'expiresAt'),
            checkoutToken: text(answer, 'checkoutToken'),
          },
        };
      }
      if (order) return { kind: 'confirmed', order };
      break;
    }
    case 202:
      return { kind: 'pending', userId: 'userId' in buyer ? buyer.userId : text(answer, 'userId'), detail };
    case 401:
      return { kind: 'unauthorized', detail: detail || 'The shop needs you to sign in.' };
    case 409:
      return { kind: 'already_purchased', order: orderOf(answer), detail };
    case 404:
      // The only 404 of this path: a product that is not (or no longer) on sale.
      if (outcome === 'unknown_product') {
        return { kind: 'unknown_product', sku: text(answer, 'sku') || (sku ?? ''), detail };
      }
      break;
    case 410: {
      const soldOutSku = text(answer, 'sku') || sku;
      const waitlist = waitlistOf(answer);
      return {
        kind: 'sold_out',
        ...(soldOutSku ? { sku: soldOutSku } : {}),
        ...(waitlist ? { waitlist } : {}),
        detail,
      };
    }
    case 403:
    case 425:
      if (outcome === 'ended') {
        return { kind: 'ended', endsAt: text(answer, 'endsAt') || null, detail };
      }
      if (outcome === 'not_admitted') {
        return { kind: 'not_admitted', detail };
      }
      // A 403 that names no sale state refuses the buyer, not the moment.
      if (response.status === 403 && outcome !== 'not_started') {
        return { kind: 'forbidden', detail: detail || 'The shop refused this purchase.' };
      }
      return { kind: 'not_started', startsAt: text(answer, 'startsAt') || null, detail };
    case 429:
      return {
        kind: 'rate_limited',
        retryAfterS: retryAfterSeconds(response.headers),
        detail,
      };
    case 503:
      if (outcome === 'paused') {
        return { kind: 'paused', retryAfterS: retryAfterSeconds(response.headers), detail };
      }
      return {
        kind: 'unavailable',
        retryAfterS: retryAfterSeconds(response.headers),
        detail,
      };
    case 400:
    case 413:
    case 415:
    case 422:
      return { kind: 'invalid', detail };
  }
  return {
    kind: 'error',
    detail: detail || `The shop answered with an unexpected status (${response.status}).`,
  };
}

/** The buyer's order: `/purchase/{userId}`, or the signed-in shopper's `/purchase/me`. */
export async function lookupOrder(buyer: Buyer): Promise<LookupResult> {
  const path = 'token' in buyer ? 'me' : encodeURIComponent(buyer.userId);
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/purchase/${path}`, {
      headers: buyerHeaders(buyer, { Accept: 'application/json' }),
      cache: 'no-store',
      signal: timeoutSignal(),
    });
  } catch (error) {
    return { kind: 'error', detail: networkProblem(error) };
  }
  const body = await readJson(response);
  if (response.status === 200) {
    const order = orderOf(body);
    if (order) return { kind: 'found', order, orders: ordersOf(body, order) };
  }
  if (response.status === 404) return { kind: 'none', userId: 'userId' in buyer ? buyer.userId : '' };
  if (response.status === 400) return { kind: 'invalid', detail: detailOf(body) };
  if (response.status === 401) {
    return { kind: 'unauthorized', detail: detailOf(body) || 'The shop needs you to sign in.' };
  }
  return {
    kind: 'error',
    detail: detailOf(body) || `The shop answered with an unexpected status (${response.status}).`,
  };
}

/** A sale status, and the server's clock minus this browser's when it was read. */
export interface StatusSnapshot {
  status: SaleStatus;
  clockOffsetMs: number;
}

export type StatusPoll =
  | ({ kind: 'fresh'; etag: string | null } & StatusSnapshot)
  | { kind: 'not_modified' }
  | { kind: 'error'; detail: string };

/** The body as a status, if it has what the pages read; the poll and the stream both check it. */
function saleStatusOf(body: JsonObject): SaleStatus | null {
  const { state, total, remaining, sold } = body;
  const counts = [total, remaining, sold];
  if (typeof state !== 'string' || !counts.every((count) => typeof count === 'number')) return null;
  return body as unknown as SaleStatus;
}

/** Server clock minus this browser's, taking serverTime as read halfway between sentAt and receivedAt. */
function clockOffsetMs(status: SaleStatus, sentAt: number, receivedAt: number): number {
  const serverTime = Date.parse(status.serverTime);
  return Number.isNaN(serverTime) ? 0 : serverTime - (sentAt + receivedAt) / 2;
}

/**
 * One conditional GET of the sale status. A page polls this every second, so it
 * sends the last ETag: an unchanged sale costs the server a 304 with no body.
 * `clockOffsetMs` (server clock minus this browser's) corrects the countdown.
 */
export async function pollStatus(etag: string | null, signal?: AbortSignal): Promise<StatusPoll> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (etag) headers['If-None-Match'] = etag;
  const sentAt = Date.now();
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/status`, {
      headers,
      cache: 'no-store',
      signal: timeoutSignal(signal),
    });
  } catch (error) {
    return { kind: 'error', detail: networkProblem(error) };
  }
  if (response.status === 304) return { kind: 'not_modified' };
  const body = await readJson(response);
  const status = response.status === 200 ? saleStatusOf(body) : null;
  if (!status) {
    return { kind: 'error', detail: detailOf(body) || `Status answered ${response.status}.` };
  }
  return {
    kind: 'fresh',
    status,
    etag: response.headers.get('ETag'),
    clockOffsetMs: clockOffsetMs(status, sentAt, Date.now()),
  };
}

/** GET /flash-sale/events: the same status as pollStatus, pushed (Server-Sent Events). */
export const STATUS_EVENTS_URL = `${API_BASE}/events`;

/** The data of one `status` event, or null if it is not a sale status. */
export function parseStatusEvent(data: string): StatusSnapshot | null {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return null;
  }
  const status = body !== null && typeof body === 'object' ? saleStatusOf(body as JsonObject) : null;
  if (!status) return null;
  // Pushed as soon as it was read: no request to take the middle of.
  const receivedAt = Date.now();
  return { status, clockOffsetMs: clockOffsetMs(status, receivedAt, receivedAt) };
}

/**
 * `status` is the HTTP status of a refusal, `problem` its problem type when it is one
 * (a 401's `/problems/token-required`: a token is needed; `/problems/invalid-token`: a wrong one).
 */
export type Fetched<T> =
  | { ok: true; value: T }
  | { ok: false; detail: string; status?: number; problem?: ProblemType };

async function getJson<T>(
  path: string,
  accept: (status: number) => boolean,
  token: string | null = null,
): Promise<Fetched<T>> {
  try {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(`${API_BASE}${path}`, {
      headers,
      cache: 'no-store',
      signal: timeoutSignal(),
    });
    const body = await readJson(response);
    if (!accept(response.status)) {
      const detail = detailOf(body) || `${path} answered ${response.status}.`;
      const problem = text(body, 'type') as ProblemType | '';
      return { ok: false, detail, status: response.status, ...(problem ? { problem } : {}) };
    }
    return { ok: true, value: body as unknown as T };
  } catch (error) {
    return { ok: false, detail: networkProblem(error) };
  }
}

/** `token`: the server's FLASHSALE_OPERATOR_TOKEN, when it has one. */
export function fetchMetrics(token: string | null = null): Promise<Fetched<Metrics>> {
  return getJson<Metrics>('/metrics', (status) => status === 200, token);
}

/**
 * Health answers 503 with the same body when unhealthy: that is data, not a failure.
 * Without the operator token a server that has one answers only `{status}`.
 */
export function fetchHealth(token: string | null = null): Promise<Fetched<Health>> {
  return getJson<Health>('/health', (status) => status === 200 || status === 503, token);
}
