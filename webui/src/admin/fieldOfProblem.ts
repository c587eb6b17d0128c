/**
 * Which field of the sale form a refusal is about. The server names it: a `field`
 * extension member, else the start of the detail ("products[1].priceCents must be ...",
 * "queue.opensAt must be ...", "Invalid endsAt: ..."). A detail that names no field (two products with the same sku)
 * is the form's.
 */
import type { AdminProblem } from '../lib/adminApi';

export const SALE_FIELDS = [
  'perUserLimit',
  'startsAt',
  'endsAt',
  'products',
  'stock',
  'checkout',
  'holdSeconds',
  'extendSeconds',
  'queue',
  'opensAt',
  'shuffle',
  'admitPerMinute',
  'admittedSeconds',
  'proofOfWork',
] as const;
export const PRODUCT_FIELDS = [
  'sku',
  'name',
  'priceCents',
  'currency',
  'stock',
  'perUserLimit',
  'description',
  'imageUrl',
] as const;

export type SaleField = (typeof SALE_FIELDS)[number];
export type ProductField = (typeof PRODUCT_FIELDS)[number];

export type FieldKey =
  | { kind: 'sale'; field: SaleField }
  | { kind: 'product'; index: number; field: ProductField }
  | { kind: 'form' };

// A product's field by its index; the waiting room's by `queue.` (its own fields' names).
const NAMED = /^(?:Invalid )?(?:products\[(\d+)\]\.([A-Za-z]+)|(?:queue\.)?([A-Za-z]+))\b/;

function isSaleField(name: string): name is SaleField {
  return (SALE_FIELDS as readonly string[]).includes(name);
}

function isProductField(name: string): name is ProductField {
  return (PRODUCT_FIELDS as readonly string[]).includes(name);
}

export function fieldOf(problem: AdminProblem): FieldKey {
  const named = typeof problem.extensions.field === 'string' ? problem.extensions.field : '';
  const match = NAMED.exec(named || problem.detail);
  if (!match) return { kind: 'form' };
  const [, index, productField, whole = ''] = match;
  if (index !== undefined && productField !== undefined) {
    return isProductField(productField)
      ? { kind: 'product', index: Number(index), field: productField }
      : { kind: 'form' };
  }
  return isSaleField(whole) ? { kind: 'sale', field: whole } : { kind: 'form' };
}

/** The key of a field in a map of messages: `perUserLimit`, `products.1.sku`, `form`. */
export function keyOf(field: FieldKey): string {
  if (field.kind === 'form') return 'form';
  if (field.kind === 'sale') return field.field;
  return `products.${field.index}.${field.field}`;
}
