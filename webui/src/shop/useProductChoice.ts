import { useState } from 'react';
import type { SaleProduct } from '../lib/types';
import { isAvailable } from './catalogue';

/** The shopper's product, for the panel, the picker and Buy (see useProductChoice). */
export interface ProductChoice {
  products: readonly SaleProduct[];
  /** More than one product: the shopper chooses before Buy. */
  several: boolean;
  /** The chosen product as the latest status has it; null before a choice. */
  chosen: SaleProduct | null;
  /** The one the panel shows: the chosen one, else the first on sale, else the first. */
  shown: SaleProduct | null;
  /** What Buy sends: the chosen product, the only one, or null (an older server: no catalogue). */
  sku: string | null;
  /** Buy may be pressed. With several products only once one with stock left is chosen. */
  ready: boolean;
  /** The chosen product sold out after it was chosen (it stays chosen, and Buy waits). */
  chosenSoldOut: boolean;
  choose: (sku: string) => void;
}

export const NO_CHOICE: ProductChoice = {
  products: [],
  several: false,
  chosen: null,
  shown: null,
  sku: null,
  ready: true,
  chosenSoldOut: false,
  choose: () => undefined,
};

/**
 * The choice is kept by sku, so every status update shows the same product with its
 * new stock; a choice that leaves the catalogue (a new sale) is no choice.
 *
 * Nothing is chosen for the shopper: a flash sale is bought in a hurry, and one per
 * shopper means a wrong size bought by a pre-selection cannot be put right by buying
 * again. So with several products Buy waits for the shopper's own pick.
 */
export function useProductChoice(products: readonly SaleProduct[]): ProductChoice {
  const [chosenSku, setChosenSku] = useState<string | null>(null);
  const several = products.length > 1;
  const chosen = products.find((product) => product.sku === chosenSku) ?? null;
  const only = products.length === 1 ? (products[0] ?? null) : null;
  const shown = chosen ?? products.find(isAvailable) ?? products[0] ?? null;
  const chosenSoldOut = chosen !== null && !isAvailable(chosen);
  return {
    products,
    several,
    chosen,
    shown,
    sku: several ? (chosen?.sku ?? null) : (only?.sku ?? null),
    // One product (or none) is bought as before, also when sold out: the server says so.
    ready: !several || (chosen !== null && !chosenSoldOut),
    chosenSoldOut,
    choose: setChosenSku,
  };
}
