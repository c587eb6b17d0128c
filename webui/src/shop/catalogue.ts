/** The sale's products as the shop shows them: read from the status, never hard-coded here. */
import type { SaleProduct } from '../lib/types';

/** A shopper may choose it: stock is left. `upcoming` ones may be chosen ahead of the start. */
export function isAvailable(product: SaleProduct): boolean {
  return product.remaining > 0 && product.state !== 'sold_out';
}

/** The name a shopper knows a product by: its catalogue name, else its sku; null without an sku. */
export function productName(
  products: readonly SaleProduct[],
  sku: string | null | undefined,
): string | null {
  if (!sku) return null;
  return products.find((product) => product.sku === sku)?.name ?? sku;
}
