/** The JSON shapes of the flash-sale API (camelCase, as the server sends them). */

export type SaleState = 'upcoming' | 'open' | 'sold_out' | 'ended';
export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * Who a purchase is for. `open`: the user id the shopper types. `jwt`: the shop's login
 * signs a token (`Authorization: Bearer`), read from `#token=` or the cookie `tokenCookie`.
 */
export interface SaleAuth {
  mode: 'open' | 'jwt';
  tokenCookie: string | null;
}

/**
 * One product of the sale (a size, a colour), with its own stock. `priceCents` is in the
 * currency's minor units (yen for JPY); `state` is the sale's when upcoming or ended, else
 * `sold_out` once this product's `remaining` is 0, else `open`.
 */
export interface SaleProduct {
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  /** An http(s) URL or a path the server serves (/flash-sale/images/...); null: no picture. */
  imageUrl: string | null;
  /** A lower limit than the sale's for this product; null: the sale's. */
  perUserLimit: number | null;
  total: number;
  remaining: number;
  sold: number;
  state: SaleState;
}

export interface SaleStatus {
  saleId: number;
  state: SaleState;
  total: number;
  remaining: number;
  sold: number;
  perUserLimit?: number;
  startsAt: string | null;
  endsAt: string | null;
  queueDepth: number;
  breaker: BreakerState;
  serverTime: string;
  /** Absent from servers older than this UI: those are `open`. */
  auth?: SaleAuth;
  /** The catalogue in the operator's order; absent from servers older than this UI. */
  products?: readonly SaleProduct[];
}

export interface Order {
  orderId: string;
  userId: string;
  position: number;
  purchasedAt: string;
  saleId: number;
  /** The product bought; absent from servers older than this UI. */
  sku?: string;
}

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
] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

export interface AllocatorHealth {
  alive: boolean;
  pid: number | null;
  heartbeatAgeMs: number | null;
  restarts: number;
}

export interface BreakerInfo {
  state: BreakerState;
  since: string | null;
  trips: number;
  /** Why it last opened, e.g. "journal cannot be written"; absent from older servers. */
  lastReason?: string | null;
}

/**
 * Whether the allocator can write its journal, or, with the redis engine, reach Redis
 * (`lastError` then names Redis); absent from older servers.
 */
export interface JournalInfo {
  writable: boolean;
  failingSince: string | null;
  lastError: string | null;
  writeErrors: number;
}

/**
 * Where the stock is decided. `sqlite`: each host's own journal. `redis`: every host on one
 * shared Redis, with its durability as Redis stated it at start-up; `weaker` names what it
 * lacks (e.g. "appendfsync is 'everysec', not 'always'") when the operator accepted that,
 * else null: Redis fsyncs every write before it answers. Absent from older servers: sqlite.
 */
export type EngineInfo =
  | { name: 'sqlite' }
  | {
      name: 'redis';
      url: string;
      appendonly: string;
      appendfsync: string;
      weaker: string | null;
    };

export interface WorkersInfo {
  alive: number;
  configured: number;
}

export interface ProcessInfo {
  role: 'master' | 'allocator' | 'worker';
  pid: number;
  /** User and system CPU time since the process started. */
  cpuSeconds: number;
  residentBytes: number;
}

export interface Metrics {
  uptimeSeconds: number;
  requests: { total: number; purchase: number };
  outcomes: Partial<Record<OutcomeKind, number>>;
  successRate: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  throughput: { requestsPerSecond: number; purchasesPerSecond: number; windowSeconds: number };
  queueDepth: number;
  queueCapacity: number;
  breaker: BreakerInfo;
  sale: SaleStatus;
  allocator: AllocatorHealth;
  workers: WorkersInfo;
  journal?: JournalInfo;
  /** Absent from servers older than this UI: those are sqlite. */
  engine?: EngineInfo;
  /** Absent from servers older than this UI. */
  processes?: ProcessInfo[];
  /** Pages holding /flash-sale/events open, over every worker; absent from older servers. */
  openEventStreams?: number;
}

/** A server with an operator token answers only `status` without it. */
export interface Health {
  status: 'ok' | 'unhealthy';
  /** What keeps purchases from being sold, e.g. "the journal cannot be written: ..." */
  problems?: string[];
  uptimeSeconds?: number;
  allocator?: AllocatorHealth;
  journal?: JournalInfo;
  engine?: EngineInfo;
  breaker?: BreakerInfo;
  workers?: WorkersInfo;
  serverTime?: string;
}

/** What the shopper is told after pressing Buy: one variant per API answer. */
export type PurchaseOutcome =
  | { kind: 'confirmed'; order: Order }
  | { kind: 'already_purchased'; order: Order | null; detail: string }
  /** `sku`: the product asked for, when the server names it (others may remain). */
  | { kind: 'sold_out'; sku?: string; detail: string }
  /** 404: the product asked for is not in the current sale; nothing was sold. */
  | { kind: 'unknown_product'; sku: string; detail: string }
  | { kind: 'not_started'; startsAt: string | null; detail: string }
  | { kind: 'ended'; endsAt: string | null; detail: string }
  | { kind: 'rate_limited'; retryAfterS: number; detail: string }
  | { kind: 'unavailable'; retryAfterS: number; detail: string }
  | { kind: 'pending'; userId: string; detail: string }
  | { kind: 'invalid'; detail: string }
  /** 401 (jwt mode): no token, or one the server does not accept; `detail` says which. */
  | { kind: 'unauthorized'; detail: string }
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
