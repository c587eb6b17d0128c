import { describe, expect, it } from 'vitest';
import type { AdminProblem } from '../lib/adminApi';
import { fieldOf, keyOf } from './fieldOfProblem';

function refusal(detail: string, extensions: Record<string, unknown> = {}): AdminProblem {
  return { status: 400, type: '/problems/invalid-sale', title: 'Invalid sale', detail, extensions };
}

describe('fieldOf', () => {
  it.each([
    ["products[1].sku must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", 'products.1.sku'],
    ['products[0].priceCents must be an integer within [0, 1000000000000]', 'products.0.priceCents'],
    ['perUserLimit must be within [1, 1000]', 'perUserLimit'],
    ['endsAt must be later than startsAt', 'endsAt'],
    ['startsAt is not an ISO-8601 time', 'startsAt'],
    ['two products have the same sku', 'form'],
    ["the products' stock adds up to over 10000000", 'form'],
    ['queue.opensAt must be earlier than startsAt', 'opensAt'],
    ['queue.shuffle must be true or false', 'shuffle'],
    ['admitPerMinute must be within [1, 1000000]', 'admitPerMinute'],
    ['queue must be an object or null', 'queue'],
    ['a sale with a queue needs startsAt', 'form'],
  ])('%s → %s', (detail, key) => {
    expect(keyOf(fieldOf(refusal(detail)))).toBe(key);
  });

  it('takes the `field` member first', () => {
    const problem = refusal('Invalid endsAt: the sale is running, and endsAt must be in the future', {
      field: 'endsAt',
    });
    expect(keyOf(fieldOf(problem))).toBe('endsAt');
  });
});
