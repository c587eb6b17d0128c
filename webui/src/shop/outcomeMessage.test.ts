import { describe, expect, it } from 'vitest';
import { AURORA } from '../test/fetchMock';
import { outcomeMessage } from './outcomeMessage';

const ORDER = { orderId: 'o-1', userId: 'alice', position: 3, purchasedAt: '', saleId: 1, sku: '' };
const ONE = { products: [AURORA], several: false };

describe('outcomeMessage names the product', () => {
  it('by its catalogue name, else by its sku, else not at all (older servers)', () => {
    expect(outcomeMessage({ kind: 'confirmed', order: { ...ORDER, sku: 'aurora-anc' } }, ONE).body).toBe(
      'Aurora ANC Headphones is yours: you were number 3 in line. Order o-1.',
    );
    expect(outcomeMessage({ kind: 'confirmed', order: { ...ORDER, sku: 'gone-sku' } }, ONE).body).toMatch(
      /^gone-sku is yours/,
    );
    expect(outcomeMessage({ kind: 'confirmed', order: ORDER }).body).toBe(
      "It's yours: you were number 3 in line. Order o-1.",
    );
  });

  it('says every item is gone when the one product sells out', () => {
    const message = outcomeMessage({ kind: 'sold_out', sku: 'aurora-anc', detail: '' }, ONE);
    expect(message).toEqual({ tone: 'warning', title: 'Sold out', body: 'Every item has been sold. Thanks for trying!' });
  });

  it('says a product no longer on sale sold nothing, even one it cannot name', () => {
    const message = outcomeMessage({ kind: 'unknown_product', sku: '', detail: 'Unknown product' }, ONE);
    expect(message.title).toBe('No longer on sale');
    expect(message.body).toMatch(/^That product is no longer on sale; nothing was bought/);
  });

  it('does not claim a limit of one: a sale may allow a shopper more', () => {
    const message = outcomeMessage(
      { kind: 'already_purchased', order: { ...ORDER, sku: 'aurora-anc' }, detail: '' },
      ONE,
    );
    expect(message.body).toBe(
      'You hold as many as this sale allows one shopper. Your order o-1 for Aurora ANC Headphones (number 3 in line) stands.',
    );
  });
});
