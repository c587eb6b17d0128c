/** The one item on sale. The API sells units of it; its description lives in the page. */
export const PRODUCT = {
  name: 'Aurora ANC Headphones',
  edition: 'Limited launch edition',
  price: '€49',
  listPrice: '€199',
  blurb:
    'Wireless noise-cancelling headphones with 40 hours of battery. One per shopper, first come, first served.',
} as const;
