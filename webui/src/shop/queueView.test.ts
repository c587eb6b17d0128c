import { describe, expect, it } from 'vitest';
import type { QueueStatus, QueueTicket } from '../lib/types';
import { ADMITTING_QUEUE } from '../test/fetchMock';
import { formatWait, queueView, servingEstimate, waitingTitle } from './queueView';

const NOW = Date.parse('2026-11-24T15:00:00.000Z');
const QUEUE: QueueStatus = { ...ADMITTING_QUEUE, estimatedWaitSeconds: 0 };
const TICKET: QueueTicket = {
  ticket: '1.17.0.YWxpY2U.c2ln',
  saleId: 1,
  number: 17,
  userId: 'alice',
  state: 'waiting',
  place: 1505,
  ahead: 1300,
  serving: 204,
  estimatedWaitSeconds: 200,
  admittedUntil: null,
  joinedAt: '2026-11-24T14:50:00.000Z',
};
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();

describe('queueView', () => {
  it('is off without a queue', () => {
    expect(queueView(undefined, 'open', null, NOW)).toEqual({ kind: 'off' });
    expect(queueView(null, 'open', TICKET, NOW)).toEqual({ kind: 'off' });
  });

  it('offers to join without a ticket, once the pre-queue opens', () => {
    const early = { ...QUEUE, state: 'prequeue' as const, opensAt: at(90_000) };
    expect(queueView(early, 'upcoming', null, NOW)).toEqual({ kind: 'not_open', opensAt: early.opensAt, opensInMs: 90_000 });
    expect(queueView(early, 'upcoming', null, NOW + 90_000)).toEqual({ kind: 'join' });
    expect(queueView(QUEUE, 'open', null, NOW)).toEqual({ kind: 'join' });
  });

  it('keeps a pre-queue ticket placeless until the start, then reads its place', () => {
    const ticket = { ...TICKET, state: 'prequeue' as const, place: null, ahead: null };
    expect(queueView({ ...QUEUE, state: 'prequeue' }, 'upcoming', ticket, NOW)).toEqual({ kind: 'prequeue' });
    expect(queueView(QUEUE, 'open', ticket, NOW)).toEqual({ kind: 'drawing' });
  });

  it('counts those ahead from the stream’s now serving, and the wait from the rate', () => {
    // Places 301 to 1,504 are before this one: 1,204; it is admitted after 1,205 more.
    expect(queueView(QUEUE, 'open', TICKET, NOW)).toEqual({
      kind: 'waiting',
      place: 1505,
      ahead: 1204,
      waitMinutes: 1205 / 400,
    });
    expect(queueView({ ...QUEUE, serving: 1504 }, 'open', TICKET, NOW)).toMatchObject({ ahead: 0, waitMinutes: 1 / 400 });
    // No rate: everyone is let in at once, so no wait is said.
    expect(queueView({ ...QUEUE, admitPerMinute: null }, 'open', TICKET, NOW)).toMatchObject({ waitMinutes: null });
    // A ticket read after the stream's last event knows a later serving.
    expect(queueView({ ...QUEUE, serving: 100 }, 'open', TICKET, NOW)).toMatchObject({ ahead: 1300 });
  });

  it('is due when serving reaches the place, and the turn counts down to admittedUntil', () => {
    expect(queueView({ ...QUEUE, serving: 1505 }, 'open', TICKET, NOW)).toEqual({ kind: 'due', place: 1505, sure: true });
    expect(queueView(QUEUE, 'open', { ...TICKET, serving: 1505 }, NOW)).toEqual({ kind: 'due', place: 1505, sure: true });
    const admitted = { ...TICKET, state: 'admitted' as const, admittedUntil: at(120_000) };
    expect(queueView(QUEUE, 'open', admitted, NOW)).toEqual({ kind: 'turn', leftMs: 120_000 });
    expect(queueView(QUEUE, 'open', admitted, NOW + 120_000)).toEqual({ kind: 'lapsed' });
    // A page whose clock was read a moment ago never shows more than the turn lasts.
    expect(queueView(QUEUE, 'open', admitted, NOW - 500)).toEqual({ kind: 'turn', leftMs: 120_000 });
    expect(queueView(QUEUE, 'open', { ...admitted, admittedUntil: null }, NOW)).toEqual({ kind: 'turn', leftMs: null });
    expect(queueView(QUEUE, 'open', { ...TICKET, state: 'lapsed' }, NOW)).toEqual({ kind: 'lapsed' });
  });

  it('closes for everyone at the sell-out or the end, but a used turn stays used', () => {
    expect(queueView({ ...QUEUE, state: 'closed' }, 'open', TICKET, NOW)).toEqual({ kind: 'closed' });
    expect(queueView(QUEUE, 'sold_out', null, NOW)).toEqual({ kind: 'closed' });
    expect(queueView(QUEUE, 'ended', TICKET, NOW)).toEqual({ kind: 'closed' });
    expect(queueView(QUEUE, 'open', { ...TICKET, state: 'closed' }, NOW)).toEqual({ kind: 'closed' });
    expect(queueView({ ...QUEUE, state: 'closed' }, 'sold_out', { ...TICKET, state: 'used' }, NOW)).toEqual({ kind: 'used' });
  });
});

describe('now serving between two pushes', () => {
  // 400 a minute, pushed every 10 s: the stream moves serving by 66 places at a time.
  it('moves on at the rate from the status read, no further than a step nor the last ticket', () => {
    expect(servingEstimate(QUEUE, NOW, NOW, 10)).toBe(300);
    expect(servingEstimate(QUEUE, NOW, NOW + 3_000, 10)).toBe(320);
    expect(servingEstimate(QUEUE, NOW, NOW + 60_000, 10)).toBe(366);
    // Pushed every 30 s (the stream's heartbeat): up to 200 places on.
    expect(servingEstimate(QUEUE, NOW, NOW + 60_000, 30)).toBe(500);
    expect(servingEstimate({ ...QUEUE, length: 310 }, NOW, NOW + 3_000, 10)).toBe(310);
    expect(servingEstimate(QUEUE, NOW, NOW - 3_000, 10)).toBe(300);
  });

  it('stays put without a rate, before the start, after the close, or without a time', () => {
    expect(servingEstimate({ ...QUEUE, admitPerMinute: null }, NOW, NOW + 3_000, 10)).toBe(300);
    expect(servingEstimate({ ...QUEUE, state: 'prequeue' }, NOW, NOW + 3_000, 10)).toBe(300);
    expect(servingEstimate({ ...QUEUE, state: 'closed' }, NOW, NOW + 3_000, 10)).toBe(300);
    expect(servingEstimate(QUEUE, Number.NaN, NOW + 3_000, 10)).toBe(300);
  });

  it('lets the place fall between pushes, and says a turn the estimate reached is not sure yet', () => {
    const near = { ...TICKET, place: 310, serving: 300 };
    expect(queueView(QUEUE, 'open', near, NOW, NOW, 10)).toMatchObject({ kind: 'waiting', ahead: 9 });
    expect(queueView(QUEUE, 'open', near, NOW + 600, NOW, 10)).toMatchObject({ kind: 'waiting', ahead: 5 });
    expect(queueView(QUEUE, 'open', near, NOW + 1_500, NOW, 10)).toEqual({ kind: 'due', place: 310, sure: false });
  });
});

describe('the wait in words', () => {
  it('rounds to minutes, and to hours and minutes past one hour', () => {
    expect(formatWait(0.4)).toBe('less than a minute');
    expect(formatWait(1.2)).toBe('about 1 minute');
    expect(formatWait(3.01)).toBe('about 3 minutes');
    expect(formatWait(120)).toBe('about 2 h');
    expect(formatWait(83)).toBe('about 1 h 23 min');
  });

  it('says those ahead with the shop’s number format', () => {
    expect(waitingTitle(1204, 3.01)).toBe(`You are in the queue: ${(1204).toLocaleString()} ahead of you, about 3 minutes`);
    expect(waitingTitle(5, null)).toBe('You are in the queue: 5 ahead of you');
    expect(waitingTitle(0, 0.1)).toBe('You are next in the queue, less than a minute');
  });
});
