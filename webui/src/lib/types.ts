/**
 * The JSON shapes of the flash-sale API (camelCase, as the server sends them): aliases of
 * the types generated from flashsale/api/openapi.json (`npm run api-types` writes
 * api.generated.ts; `npm run check` fails when it differs from the document). Only what
 * the UI makes of the answers is written here by hand.
 */
import type { components } from './api.generated';

type Schemas = components['schemas'];

export type SaleState = Schemas['SaleState'];
export type BreakerState = Schemas['BreakerState'];

/**
 * Who a purchase is for. `open`: the user id the shopper types. `jwt`: the shop's login
 * signs a token (`Authorization: Bearer`), read from `#token=` or the cookie `tokenCookie`.
 */
export type SaleAuth = Schemas['Auth'];

/**
 * One product of the sale (a size, a colour), with its own stock. `priceCents` is in the
 * currency's minor units (yen for JPY); `state` is the sale's when upcoming or ended, else
 * `sold_out` once this product's `remaining` is 0, else `open`.
 */
export type SaleProduct = Schemas['ProductStock'];

/** The sale as GET /flash-sale/status and the event stream send it. */
export type SaleStatus = Schemas['Status'];

/** The sale's totals and products, without the shopper's extras (breaker, auth, clock). */
export type Sale = Schemas['Sale'];

export type Order = Schemas['Order'];

/**
 * A unit held for this shopper (a sale with checkout): theirs until `expiresAt` (server
 * time) unless paid; `checkoutToken` confirms it, known to this tab only.
 */
export interface Hold {
  order: Order;
  expiresAt: string;
  checkoutToken: string;
}

export type OrderState = Schemas['OrderState'];
export type WaitlistState = Schemas['WaitlistState'];

/** A problem's `type` (RFC 9457): one of the URIs the document declares. */
export type ProblemType = Schemas['Problem']['type'];

/** Every outcome the operator's metrics count, in the order the dashboard shows them. */
export const OUTCOME_KINDS = [
  'confirmed',
  'already_purchased',
  'sold_out',
  'not_started',
  'ended',
  'rate_limited',
  'unavailable',
  'pending',
  'invalid',
  'unknown_product',
  'paused',
  'held',
  'not_admitted',
] as const satisfies readonly (keyof Schemas['Metrics']['outcomes'])[];
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];
// Fails to compile when the document counts an outcome this list leaves out.
const everyOutcomeListed: Exclude<keyof Schemas['Metrics']['outcomes'], OutcomeKind> extends never
  ? true
  : never = true;
void everyOutcomeListed;

export type AllocatorHealth = Schemas['Allocator'];
export type BreakerInfo = Schemas['Breaker'];

/**
 * Whether the allocator can write its journal, or, with the redis engine, reach Redis
 * (`lastError` then names Redis).
 */
export type JournalInfo = Schemas['Journal'];

/**
 * Where the stock is decided. `sqlite`: each host's own journal. `redis`: every host on one
 * shared Redis, with its durability as Redis stated it at start-up; `weaker` names what it
 * lacks (e.g. "appendfsync is 'everysec', not 'always'") when the operator accepted that,
 * else null: Redis fsyncs every write before it answers.
 */
export type EngineInfo = Schemas['Engine'];

export type WorkersInfo = Schemas['Workers'];

/** One server process (master, allocator, worker): CPU seconds and resident memory. */
export type ProcessInfo = Schemas['Process'];

export type Metrics = Schemas['Metrics'];

/** A server with an operator token answers only `status` without it. */
export type Health = Schemas['Health'];

/** What the shopper is told after pressing Buy: one variant per API answer. */
export type PurchaseOutcome =
  | { kind: 'confirmed'; order: Order }
  /** A sale with checkout: the unit is held for the buyer until `hold.expiresAt`. */
  | { kind: 'held'; hold: Hold }
  | { kind: 'already_purchased'; order: Order | null; detail: string }
  /** `sku`: the product asked for, when the server names it (others may remain). */
  /** `waitlist`: a sale with checkout; `open` while holds on the product are outstanding. */
  | { kind: 'sold_out'; sku?: string; waitlist?: { open: boolean; length: number }; detail: string }
  /** 404: the product asked for is not in the current sale; nothing was sold. */
  | { kind: 'unknown_product'; sku: string; detail: string }
  | { kind: 'not_started'; startsAt: string | null; detail: string }
  | { kind: 'ended'; endsAt: string | null; detail: string }
  | { kind: 'rate_limited'; retryAfterS: number; detail: string }
  | { kind: 'unavailable'; retryAfterS: number; detail: string }
  /** 503 with outcome `paused`: the organiser paused the sale; nothing was bought. */
  | { kind: 'paused'; retryAfterS: number; detail: string }
  | { kind: 'pending'; userId: string; detail: string }
  | { kind: 'invalid'; detail: string }
  /** 401 (jwt mode): no token, or one the server does not accept; `detail` says which. */
  | { kind: 'unauthorized'; detail: string }
  /**
   * 403 with outcome `not_admitted` (a sale with a queue): no admitted ticket of this buyer
   * came with the purchase (none, not yet admitted, its time lapsed, or used).
   */
  | { kind: 'not_admitted'; detail: string }
  /** 403 without a sale state: the server refused this buyer (a `userId` that is not the token's). */
  | { kind: 'forbidden'; detail: string }
  | { kind: 'error'; detail: string };

export type LookupResult =
  /** `order`: the first; `orders`: every order of the buyer in this sale (at least `order`). */
  | { kind: 'found'; order: Order; orders: Order[] }
  /** `userId` is '' for the signed-in shopper's own look-up (`/purchase/me`). */
  | { kind: 'none'; userId: string }
  | { kind: 'invalid'; detail: string }
  | { kind: 'unauthorized'; detail: string }
  | { kind: 'error'; detail: string };

/** The admin API's sale: terms, totals, lifecycle (`phase`, `version`) and its `etag`. */
export type SaleResource = Schemas['SaleResource'];
export type AdminSaleState = Schemas['AdminSaleState'];
/** What POST /flash-sale/admin/sales takes. */
export type SaleSpec = Schemas['SaleSpec'];
export type ProductSpec = Schemas['ProductSpec'];
/** What PATCH /flash-sale/admin/sales/{saleId} takes: one change. */
export type SaleChange = Schemas['SaleChange'];
export type OrderRow = Schemas['OrderRow'];
export type OrdersPage = Schemas['OrdersPage'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditPage = Schemas['AuditPage'];

/**
 * A sale's waiting room: the pre-queue opens at `opensAt` (null: at the sale's creation),
 * is shuffled at the start unless `shuffle` is false, and `admitPerMinute` tickets are
 * admitted a minute (null: all at the start), each for `admittedSeconds`. `proofOfWork`:
 * joining needs an ALTCHA solution. (A sale without one has `queue` null or absent.)
 */
export type QueueTerms = NonNullable<Schemas['QueueTerms']>;

/**
 * The queue as the status and its stream send it: tickets issued (`length`), the highest
 * place admitted (`serving`), the tickets not admitted yet (`waiting`). One for everyone:
 * a page works out its own wait from `serving` and its ticket's place.
 */
export type QueueStatus = Schemas['QueueStatus'];

/**
 * A shopper's ticket (POST /flash-sale/queue, GET /flash-sale/queue/{ticket}): `ticket`
 * is the signed text a purchase sends in `Flash-Sale-Ticket`; `place` is null in the
 * pre-queue (drawn at the start); `admittedUntil`: an admitted ticket buys before it.
 */
export type QueueTicket = Schemas['QueueTicket'];
export type QueueTicketState = QueueTicket['state'];
