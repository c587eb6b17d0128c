import { afterEach, describe, expect, it, vi } from 'vitest';
import { header, json, mockFetch, notModified, OPEN_STATUS, problem } from '../test/fetchMock';
import {
  fetchHealth,
  fetchMetrics,
  lookupOrder,
  parseStatusEvent,
  pollStatus,
  purchase,
  retryAfterSeconds,
} from './api';
import type { Order } from './types';

const ORDER = {
  orderId: '7b0c9a52-1f1e-4a5b-9d36-2f0b1d2f1c11',
  userId: 'alice',
  position: 17,
  purchasedAt: '2026-11-24T15:00:01.000Z',
  saleId: 1,
  sku: 'aurora-anc',
} satisfies Order;

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('purchase', () => {
  it('posts the user id as JSON', async () => {
    const calls = mockFetch(() => json({ outcome: 'confirmed', ...ORDER }, 201));
    await purchase({ userId: 'alice' });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('/flash-sale/purchase');
    expect(calls[0]!.init?.method).toBe('POST');
    expect(header(calls[0], 'Content-Type')).toBe('application/json');
    expect(JSON.parse(calls[0]!.init?.body as string)).toEqual({ userId: 'alice' });
  });

  it.each([
    [201, { outcome: 'confirmed', ...ORDER }, { kind: 'confirmed', order: ORDER }],
    [
      409,
      { outcome: 'already_purchased', ...ORDER, title: 'Already purchased', detail: 'one each' },
      { kind: 'already_purchased', order: ORDER, detail: 'one each' },
    ],
    [410, { outcome: 'sold_out', title: 'Sold out', detail: 'gone' }, { kind: 'sold_out', detail: 'gone' }],
    [
      403,
      { outcome: 'not_started', title: 'Not started', detail: 'soon', startsAt: '2030-01-01T00:00:00Z' },
      { kind: 'not_started', startsAt: '2030-01-01T00:00:00Z', detail: 'soon' },
    ],
    [
      403,
      { outcome: 'ended', title: 'Ended', detail: 'over', endsAt: '2020-01-01T00:00:00Z' },
      { kind: 'ended', endsAt: '2020-01-01T00:00:00Z', detail: 'over' },
    ],
    [
      202,
      { outcome: 'pending', title: 'Pending', detail: 'check later', location: '/flash-sale/purchase/alice' },
      { kind: 'pending', userId: 'alice', detail: 'check later' },
    ],
    [400, { title: 'Invalid user id', detail: 'userId must not contain "/"' }, { kind: 'invalid', detail: 'userId must not contain "/"' }],
    [413, { title: 'Body too large', detail: 'at most 1 KiB' }, { kind: 'invalid', detail: 'at most 1 KiB' }],
    [415, { title: 'Unsupported media type', detail: 'send JSON' }, { kind: 'invalid', detail: 'send JSON' }],
  ])('maps HTTP %i to its outcome', async (status, body, expected) => {
    mockFetch(() => json(body, status));
    expect(await purchase({ userId: 'alice' })).toEqual(expected);
  });

  it.each([
    [
      429,
      { outcome: 'rate_limited', title: 'Slow down', detail: 'too many' },
      '7',
      { kind: 'rate_limited', retryAfterS: 7, detail: 'too many' },
    ],
    [
      503,
      { outcome: 'unavailable', title: 'Busy', detail: 'queue full' },
      '2',
      { kind: 'unavailable', retryAfterS: 2, detail: 'queue full' },
    ],
  ])('maps HTTP %i to its outcome, the wait read from Retry-After', async (status, body, wait, expected) => {
    mockFetch(() => json(body, status, { 'Retry-After': wait }));
    expect(await purchase({ userId: 'alice' })).toEqual(expected);
  });

  it('reads the wait from Retry-After', async () => {
    mockFetch(() => json({ outcome: 'rate_limited', title: 'Slow down' }, 429, { 'Retry-After': '12' }));
    expect(await purchase({ userId: 'alice' })).toMatchObject({ kind: 'rate_limited', retryAfterS: 12 });
  });

  it('reads a problem (application/problem+json) by its outcome and detail', async () => {
    const extensions = { outcome: 'sold_out', sku: 'aurora-anc' };
    mockFetch(() => problem('/problems/sold-out', 'Sold out', 410, 'every item has been sold', {}, extensions));
    expect(await purchase({ userId: 'alice' })).toEqual({
      kind: 'sold_out',
      sku: 'aurora-anc',
      detail: 'every item has been sold',
    });
  });

  it('reports a network failure as an error, never throws', async () => {
    mockFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    expect(await purchase({ userId: 'alice' })).toMatchObject({ kind: 'error' });
  });

  it('reports an unexpected status with its code', async () => {
    mockFetch(() => new Response('<html>oops</html>', { status: 500 }));
    const outcome = await purchase({ userId: 'alice' });
    expect(outcome.kind).toBe('error');
    expect(outcome.kind === 'error' && outcome.detail).toContain('500');
  });
});

describe('purchase of one product of several', () => {
  const TEE_M = { ...ORDER, sku: 'tee-m' };

  it('sends the sku chosen with the user id', async () => {
    const calls = mockFetch(() => json({ outcome: 'confirmed', ...TEE_M }, 201));
    expect(await purchase({ userId: 'alice' }, 'tee-m')).toEqual({ kind: 'confirmed', order: TEE_M });
    expect(JSON.parse(calls[0]!.init?.body as string)).toEqual({ userId: 'alice', sku: 'tee-m' });
  });

  it('sends the sku alone in jwt mode', async () => {
    const calls = mockFetch(() => json({ outcome: 'confirmed', ...TEE_M }, 201));
    await purchase({ token: 'the.jwt.token' }, 'tee-m');
    expect(JSON.parse(calls[0]!.init?.body as string)).toEqual({ sku: 'tee-m' });
  });

  it.each([
    [
      404,
      { title: 'Unknown product', detail: 'not in this sale', outcome: 'unknown_product', sku: 'tee-xl' },
      { kind: 'unknown_product', sku: 'tee-xl', detail: 'not in this sale' },
    ],
    [
      410,
      { title: 'Sold out', detail: 'tee-s is gone', outcome: 'sold_out', sku: 'tee-s' },
      { kind: 'sold_out', sku: 'tee-s', detail: 'tee-s is gone' },
    ],
    [
      409,
      { outcome: 'already_purchased', ...TEE_M, title: 'Already purchased', detail: 'one each' },
      { kind: 'already_purchased', order: TEE_M, detail: 'one each' },
    ],
  ])('maps HTTP %i with its sku', async (status, body, expected) => {
    mockFetch(() => json(body, status));
    expect(await purchase({ userId: 'alice' }, 'tee-s')).toEqual(expected);
  });

  it('gives an order of an older server, which names no product, the empty sku', async () => {
    const unnamed = Object.fromEntries(Object.entries(ORDER).filter(([key]) => key !== 'sku'));
    mockFetch(() => json({ outcome: 'confirmed', ...unnamed }, 201));
    expect(await purchase({ userId: 'alice' })).toEqual({ kind: 'confirmed', order: { ...ORDER, sku: '' } });
  });

  it('names the sku asked for when the answer does not', async () => {
    mockFetch(() => json({ title: 'Sold out', outcome: 'sold_out' }, 410));
    expect(await purchase({ userId: 'alice' }, 'tee-s')).toMatchObject({ kind: 'sold_out', sku: 'tee-s' });
    mockFetch(() => json({ title: 'Unknown product', outcome: 'unknown_product' }, 404));
    expect(await purchase({ userId: 'alice' }, 'tee-s')).toMatchObject({ kind: 'unknown_product', sku: 'tee-s' });
  });

  it('takes a 404 that is no unknown_product for an unexpected answer', async () => {
    mockFetch(() => json({ title: 'Not found' }, 404));
    expect(await purchase({ userId: 'alice' }, 'tee-s')).toMatchObject({ kind: 'error' });
  });
});

describe('retryAfterSeconds', () => {
  it('rounds up fractions and falls back to one second', () => {
    expect(retryAfterSeconds(new Headers({ 'Retry-After': '0.2' }))).toBe(1);
    expect(retryAfterSeconds(new Headers({ 'Retry-After': '2.5' }))).toBe(3);
    expect(retryAfterSeconds(new Headers())).toBe(1);
    expect(retryAfterSeconds(new Headers({ 'Retry-After': 'soon' }))).toBe(1);
  });
});

describe('lookupOrder', () => {
  it('URL-encodes the user id', async () => {
    const calls = mockFetch(() => json(ORDER));
    expect(await lookupOrder({ userId: 'a b?#%' })).toEqual({ kind: 'found', order: ORDER, orders: [ORDER] });
    expect(calls[0]!.url).toBe('/flash-sale/purchase/a%20b%3F%23%25');
  });

  it('reads every order of the buyer, with its product', async () => {
    const first = { ...ORDER, sku: 'tee-m' };
    const second = { ...ORDER, orderId: 'o-2', position: 40, sku: 'tee-l' };
    mockFetch(() => json({ ...first, units: 2, orders: [first, second, { junk: true }] }));
    expect(await lookupOrder({ userId: 'alice' })).toEqual({
      kind: 'found',
      order: first,
      orders: [first, second],
    });
  });

  it('says none on 404', async () => {
    mockFetch(() => json({ title: 'Not found' }, 404));
    expect(await lookupOrder({ userId: 'bob' })).toEqual({ kind: 'none', userId: 'bob' });
  });
});

describe('pollStatus', () => {
  it('sends If-None-Match once it has an ETag and passes 304 through', async () => {
    const calls = mockFetch((_url, init) => {
      const headers = init?.headers as Record<string, string>;
      return headers['If-None-Match'] === '"v1"'
        ? notModified('"v1"')
        : json(OPEN_STATUS, 200, { ETag: '"v1"' });
    });
    const first = await pollStatus(null);
    expect(first).toMatchObject({ kind: 'fresh', etag: '"v1"', status: OPEN_STATUS });
    expect(header(calls[0], 'If-None-Match')).toBeUndefined();

    const second = await pollStatus('"v1"');
    expect(second).toEqual({ kind: 'not_modified' });
    expect(header(calls[1], 'If-None-Match')).toBe('"v1"');
    expect(calls[1]!.init?.cache).toBe('no-store');
  });

  it('measures the server clock offset from serverTime', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-24T14:59:50.000Z'));
    mockFetch(() => json(OPEN_STATUS));
    const result = await pollStatus(null);
    // The server says 15:00:00 while this browser says 14:59:50: it is 10 s ahead.
    expect(result.kind === 'fresh' && result.clockOffsetMs).toBe(10_000);
  });

  it('reports a 200 that is not a status as an error', async () => {
    mockFetch(() => json({ state: 'open', total: 100 }));
    expect(await pollStatus(null)).toMatchObject({ kind: 'error' });
  });

  it('reports a failing server as an error', async () => {
    mockFetch(() => json({ title: 'Internal error' }, 500));
    expect(await pollStatus(null)).toMatchObject({ kind: 'error' });
  });
});

describe('parseStatusEvent', () => {
  it('reads a status event like a status answer, with the clock offset', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-24T14:59:50.000Z'));
    expect(parseStatusEvent(JSON.stringify(OPEN_STATUS))).toEqual({
      status: OPEN_STATUS,
      clockOffsetMs: 10_000,
    });
  });

  it.each([
    ['not JSON', '{"state": "open"'],
    ['not an object', '"open"'],
    ['null', 'null'],
    ['without the stock', JSON.stringify({ ...OPEN_STATUS, remaining: undefined })],
    ['with a state that is not text', JSON.stringify({ ...OPEN_STATUS, state: 3 })],
  ])('refuses data that is %s', (_what, data) => {
    expect(parseStatusEvent(data)).toBeNull();
  });
});

describe('fetchHealth', () => {
  it('treats 503 unhealthy as data', async () => {
    mockFetch(() => json({ status: 'unhealthy', uptimeSeconds: 3 }, 503));
    expect(await fetchHealth()).toMatchObject({ ok: true, value: { status: 'unhealthy' } });
  });
});

describe('fetchMetrics', () => {
  it("names a refusal's problem type, code and detail", async () => {
    mockFetch(() => problem('/problems/invalid-token', 'Invalid token', 401, 'wrong operator token'));
    expect(await fetchMetrics('not-it')).toEqual({
      ok: false,
      status: 401,
      problem: '/problems/invalid-token',
      detail: 'wrong operator token',
    });
  });
});

describe('with the shop sign-in (jwt mode)', () => {
  it('buys with the bearer token and an empty body', async () => {
    const calls = mockFetch(() => json({ outcome: 'confirmed', ...ORDER }, 201));
    expect(await purchase({ token: 'the.jwt.token' })).toEqual({ kind: 'confirmed', order: ORDER });
    expect(calls[0]!.url).toBe('/flash-sale/purchase');
    expect(header(calls[0], 'Authorization')).toBe('Bearer the.jwt.token');
    expect(header(calls[0], 'Content-Type')).toBe('application/json');
    expect(JSON.parse(calls[0]!.init?.body as string)).toEqual({});
  });

  it('sends no Authorization header in open mode', async () => {
    const calls = mockFetch(() => json({ outcome: 'confirmed', ...ORDER }, 201));
    await purchase({ userId: 'alice' });
    await lookupOrder({ userId: 'alice' });
    expect(calls.map((call) => header(call, 'Authorization'))).toEqual([undefined, undefined]);
  });

  it("looks the shopper's own order up at /purchase/me", async () => {
    const calls = mockFetch(() => json(ORDER));
    expect(await lookupOrder({ token: 'the.jwt.token' })).toEqual({ kind: 'found', order: ORDER, orders: [ORDER] });
    expect(calls[0]!.url).toBe('/flash-sale/purchase/me');
    expect(header(calls[0], 'Authorization')).toBe('Bearer the.jwt.token');
  });

  it('says "none" for /purchase/me without naming anyone', async () => {
    mockFetch(() => json({ title: 'Not found' }, 404));
    expect(await lookupOrder({ token: 't.t.t' })).toEqual({ kind: 'none', userId: '' });
  });

  it("takes a 401's detail, for a purchase and a look-up", async () => {
    const refusal = { title: 'Invalid token', detail: 'the token has expired' };
    mockFetch(() =>
      json(refusal, 401, { 'WWW-Authenticate': 'Bearer realm="flashsale", error="invalid_token"' }),
    );
    expect(await purchase({ token: 't.t.t' })).toEqual({ kind: 'unauthorized', detail: 'the token has expired' });
    expect(await lookupOrder({ token: 't.t.t' })).toEqual({ kind: 'unauthorized', detail: 'the token has expired' });
  });

  it("takes a 403 that names no sale state as a refusal of the buyer, with its detail", async () => {
    mockFetch(() => json({ title: 'Not your id', detail: 'userId is not the signed-in shopper' }, 403));
    expect(await purchase({ token: 't.t.t' })).toEqual({
      kind: 'forbidden',
      detail: 'userId is not the signed-in shopper',
    });
  });

  it('names the buyer of a pending purchase from the answer', async () => {
    mockFetch(() => json({ outcome: 'pending', title: 'Pending', userId: 'alice' }, 202));
    expect(await purchase({ token: 't.t.t' })).toMatchObject({ kind: 'pending', userId: 'alice' });
  });
});
