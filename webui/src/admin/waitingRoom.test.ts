import { describe, expect, it } from 'vitest';
import { describeQueue, NO_WAITING_ROOM, queueOf } from './waitingRoom';

describe('queueOf', () => {
  it('sends no queue while the waiting room is off', () => {
    expect(queueOf(NO_WAITING_ROOM)).toBeUndefined();
    expect(queueOf({ ...NO_WAITING_ROOM, admitPerMinute: '600' })).toBeUndefined();
  });

  it('sends the defaults: open at once, shuffled, all at the start, 120 s to buy, no proof of work', () => {
    expect(queueOf({ ...NO_WAITING_ROOM, on: true })).toEqual({
      opensAt: null,
      shuffle: true,
      admitPerMinute: null,
      admittedSeconds: 120,
      proofOfWork: false,
    });
  });

  it('sends what was typed: the opening as ISO-8601 UTC, whole numbers as numbers', () => {
    const opensAt = '2026-11-24T14:00';
    expect(
      queueOf({ on: true, opensAt, shuffle: false, admitPerMinute: ' 600 ', admittedSeconds: '90', proofOfWork: true }),
    ).toEqual({
      opensAt: new Date(opensAt).toISOString(),
      shuffle: false,
      admitPerMinute: 600,
      admittedSeconds: 90,
      proofOfWork: true,
    });
  });

  it('sends what is not a whole number as typed, for the server to name, and an empty time to buy as the default', () => {
    expect(queueOf({ ...NO_WAITING_ROOM, on: true, admitPerMinute: '1.5', admittedSeconds: '' })).toMatchObject({
      admitPerMinute: '1.5',
      admittedSeconds: 120,
    });
  });
});

describe('describeQueue', () => {
  it('says the queue’s terms, or none', () => {
    expect(describeQueue(null)).toBe('none');
    expect(describeQueue(undefined)).toBe('none');
    expect(
      describeQueue({ opensAt: null, shuffle: true, admitPerMinute: 600, admittedSeconds: 120, proofOfWork: true }),
    ).toBe('open from creation, shuffled at the start, 600 admitted a minute, 2 min to buy, proof of work to join');
    expect(
      describeQueue({ opensAt: null, shuffle: false, admitPerMinute: null, admittedSeconds: 90, proofOfWork: false }),
    ).toBe('open from creation, in arrival order, all admitted at the start, 1 min 30 s to buy');
  });
});
