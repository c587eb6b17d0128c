import { vi } from 'vitest';
import type { ProblemType, QueueStatus } from '../lib/types';

export interface Call {
  url: string;
  init: RequestInit | undefined;
}

export type Handler = (url: string, init: RequestInit | undefined) => Response | Promise<Response>;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** An error answer as the server sends it: a problem (RFC 9457) of the given type. */
export function problem(
  type: ProblemType,
  title: string,
  status: number,
  detail: string,
  headers: Record<string, string> = {},
  extensions: Record<string, unknown> = {},
): Response {
  return new Response(JSON.stringify({ type, title, status, detail, ...extensions }), {
    status,
    headers: { 'Content-Type': 'application/problem+json', ...headers },
  });
}

export function notModified(etag: string): Response {
  return new Response(null, { status: 304, headers: { ETag: etag } });
}

/** Replace the global fetch with `handler`; returns the recorded calls. */
export function mockFetch(handler: Handler): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      calls.push({ url, init });
      return handler(url, init);
    }),
  );
  return calls;
}

export function header(call: Call | undefined, name: string): string | undefined {
  const headers = call?.init?.headers as Record<string, string> | undefined;
  return headers?.[name];
}

/** The embedded default sale's one product, as the status lists it. */
export const AURORA = {
  sku: 'aurora-anc',
  name: 'Aurora ANC Headphones',
  description: 'Wireless noise-cancelling headphones with 40 hours of battery.',
  priceCents: 4900,
  currency: 'EUR',
  imageUrl: '/flash-sale/images/aurora.svg',
  perUserLimit: null,
  total: 100,
  remaining: 37,
  sold: 63,
  state: 'open',
} as const;

/** A server older than the catalogue: no `products`. */
export const LEGACY_STATUS = {
  saleId: 1,
  state: 'open',
  total: 100,
  remaining: 37,
  sold: 63,
  perUserLimit: 1,
  startsAt: null,
  endsAt: null,
  queueDepth: 0,
  breaker: 'closed',
  serverTime: '2026-11-24T15:00:00.000Z',
} as const;

export const OPEN_STATUS = { ...LEGACY_STATUS, products: [AURORA], heartbeatSeconds: 30 } as const;

/** How a server in open mode describes its shoppers' identity (absent from older servers). */
export const OPEN_AUTH = { mode: 'open', tokenCookie: null } as const;

/** A waiting room letting in 400 a minute, 300 of 2,000 served. */
export const ADMITTING_QUEUE: QueueStatus = {
  state: 'admitting',
  opensAt: null,
  shuffle: true,
  length: 2000,
  serving: 300,
  waiting: 1700,
  admitPerMinute: 400,
  admittedSeconds: 120,
  proofOfWork: false,
  estimatedWaitSeconds: 255,
};
