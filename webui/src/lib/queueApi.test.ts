import { afterEach, describe, expect, it, vi } from 'vitest';
import { header, json, mockFetch, problem } from '../test/fetchMock';
import { purchase, TICKET_HEADER } from './api';
import { joinQueue, readTicket, ticketOf } from './queueApi';

const TICKET = '1.17.1795532400.YWxpY2U.c2lnbmF0dXJl';
const BODY = {
  ticket: TICKET,
  saleId: 1,
  number: 17,
  userId: 'alice',
  state: 'waiting',
  place: 5,
  ahead: 3,
  serving: 2,
  estimatedWaitSeconds: 90,
  admittedUntil: null,
  joinedAt: '2026-11-24T14:59:00.000Z',
};

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('joinQueue', () => {
  it('posts the user id, and reads a new ticket (201) and an existing one (200) alike', async () => {
    const calls = mockFetch(() => json(BODY, 201));
    expect(await joinQueue({ userId: 'alice' })).toEqual({ kind: 'joined', ticket: BODY, created: true });
    expect(calls[0]!.url).toBe('/flash-sale/queue');
    expect(calls[0]!.init?.method).toBe('POST');
    expect(JSON.parse(String(calls[0]!.init?.body))).toEqual({ userId: 'alice' });

    mockFetch(() => json(BODY, 200));
    expect(await joinQueue({ userId: 'alice' })).toMatchObject({ kind: 'joined', created: false });
  });

  it('joins as the signed-in shopper with an empty body, and sends the ALTCHA payload when given', async () => {
    const calls = mockFetch(() => json({ ...BODY, state: 'prequeue', place: null, ahead: null }, 201));
    const answer = await joinQueue({ token: 'jwt-of-alice' }, 'eyJhbHRjaGEiOiJwYXlsb2FkIn0=');
    expect(answer).toMatchObject({ kind: 'joined', ticket: { state: 'prequeue', place: null } });
    expect(header(calls[0], 'Authorization')).toBe('Bearer jwt-of-alice');
    expect(JSON.parse(String(calls[0]!.init?.body))).toEqual({ altcha: 'eyJhbHRjaGEiOiJwYXlsb2FkIn0=' });
  });

  it.each([
    ['/problems/no-queue', 404, 'no_queue'],
    ['/problems/queue-not-open', 409, 'not_open'],
    ['/problems/queue-closed', 410, 'closed'],
    ['/problems/proof-of-work-required', 403, 'proof_required'],
    ['/problems/proof-of-work-invalid', 403, 'proof_invalid'],
    ['/problems/invalid-user-id', 400, 'invalid'],
  ] as const)('names a refusal by its problem type (%s)', async (type, status, refusal) => {
    mockFetch(() => problem(type, 'Refused', status, 'the detail'));
    expect(await joinQueue({ userId: 'alice' })).toEqual({ kind: 'refused', refusal, detail: 'the detail' });
  });

  it('says 401 in jwt mode, and reports a network failure without throwing', async () => {
    mockFetch(() => problem('/problems/invalid-token', 'Invalid token', 401, 'the token has expired'));
    expect(await joinQueue({ token: 'old' })).toEqual({ kind: 'unauthorized', detail: 'the token has expired' });
    mockFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    expect(await joinQueue({ userId: 'alice' })).toMatchObject({ kind: 'error' });
  });
});

describe('readTicket', () => {
  it('reads the ticket at its URL-encoded path', async () => {
    const calls = mockFetch(() => json({ ...BODY, state: 'admitted', admittedUntil: '2026-11-24T15:02:00.000Z' }));
    const read = await readTicket(TICKET);
    expect(read).toMatchObject({ kind: 'ticket', ticket: { state: 'admitted', admittedUntil: '2026-11-24T15:02:00.000Z' } });
    expect(calls[0]!.url).toBe(`/flash-sale/queue/${TICKET}`);
  });

  it('says a forged (403) or unknown (404) ticket is gone, other failures are errors', async () => {
    mockFetch(() => problem('/problems/ticket-invalid', 'Invalid ticket', 403, 'signature'));
    expect(await readTicket('forged')).toEqual({ kind: 'gone', detail: 'signature' });
    mockFetch(() => problem('/problems/unknown-ticket', 'Unknown ticket', 404, 'no such ticket'));
    expect(await readTicket(TICKET)).toEqual({ kind: 'gone', detail: 'no such ticket' });
    mockFetch(() => json({}, 503));
    expect(await readTicket(TICKET)).toMatchObject({ kind: 'error' });
  });
});

describe('ticketOf', () => {
  it('takes only a body with a ticket and a known state', () => {
    expect(ticketOf(BODY)).toEqual(BODY);
    expect(ticketOf({ ...BODY, state: 'dancing' })).toBeNull();
    expect(ticketOf({ ...BODY, ticket: '' })).toBeNull();
    expect(ticketOf({ ticket: TICKET, state: 'prequeue' })).toMatchObject({ place: null, serving: 0, admittedUntil: null });
  });
});

describe('purchase in a sale with a queue', () => {
  it('sends the ticket in Flash-Sale-Ticket', async () => {
    const calls = mockFetch(() => json({ outcome: 'confirmed', orderId: 'o-1', position: 1, userId: 'alice' }, 201));
    await purchase({ userId: 'alice' }, 'aurora-anc', TICKET);
    expect(TICKET_HEADER).toBe('Flash-Sale-Ticket');
    expect(header(calls[0], 'Flash-Sale-Ticket')).toBe(TICKET);
    await purchase({ userId: 'alice' }, 'aurora-anc');
    expect(header(calls[1], 'Flash-Sale-Ticket')).toBeUndefined();
  });

  it('reads a 403 not_admitted as its own outcome, not a refusal of the buyer', async () => {
    mockFetch(() =>
      problem('/problems/not-admitted', 'Not admitted', 403, 'no admitted ticket of this buyer', {}, { outcome: 'not_admitted' }),
    );
    expect(await purchase({ userId: 'alice' })).toEqual({ kind: 'not_admitted', detail: 'no admitted ticket of this buyer' });
  });
});
