import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installFakeEventSource, latest } from '../test/fakeEventSource';
import { AURORA, type Handler, json, LEGACY_STATUS, mockFetch, OPEN_STATUS } from '../test/fetchMock';
import { Shop } from './Shop';

afterEach(() => vi.unstubAllGlobals());

const TEE = {
  description: 'Organic cotton, printed in Lisbon.',
  priceCents: 2500,
  currency: 'EUR',
  perUserLimit: null,
  total: 10,
  sold: 0,
  state: 'open',
} as const;
const TEE_S = { ...TEE, sku: 'tee-s', name: 'Tee, size S', imageUrl: '/flash-sale/images/tee-s.png', remaining: 0, sold: 10, state: 'sold_out' };
const TEE_M = { ...TEE, sku: 'tee-m', name: 'Tee, size M', imageUrl: '/flash-sale/images/tee-m.png', remaining: 4, sold: 6 };
const TEE_L = {
  ...TEE,
  sku: 'tee-l',
  name: 'Tee, size L',
  imageUrl: null,
  priceCents: 2750,
  description: 'Cut longer in the back.',
  remaining: 7,
  sold: 3,
};
const TEES = { ...OPEN_STATUS, total: 30, remaining: 11, sold: 19, products: [TEE_S, TEE_M, TEE_L] };
const ORDER = { orderId: 'o-9', userId: 'alice', position: 20, purchasedAt: '2026-11-24T15:00:01.000Z', saleId: 1 };

/** The shop page with `status` pushed by the stream; fetch answers with `handler`. */
function renderShop(status: object, handler: Handler = () => json(status)) {
  const sources = installFakeEventSource();
  const calls = mockFetch(handler);
  render(<Shop pollMs={60_000} />);
  const push = (next: object) => act(() => latest(sources).pushStatus(next));
  push(status);
  return { calls, push };
}

function purchaseAnswer(answer: Response, status: object = TEES): Handler {
  return (url) => (url.endsWith('/flash-sale/purchase') ? answer : json(status));
}

const radio = (name: RegExp) => screen.getByRole('radio', { name });
const buyButton = () => screen.getByTestId('buy-button');
const postedBody = (calls: { url: string; init: RequestInit | undefined }[]) =>
  JSON.parse(calls.find((call) => call.url === '/flash-sale/purchase')?.init?.body as string);

async function buyAs(userId: string) {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText('Your user id'), userId);
  await user.click(buyButton());
  return user;
}

describe('Shop with one product', () => {
  it("shows the status's product, with no picker, and buys it by its sku", async () => {
    const { calls } = renderShop(OPEN_STATUS, purchaseAnswer(json({ outcome: 'confirmed', ...ORDER, sku: 'aurora-anc' }, 201), OPEN_STATUS));
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Aurora ANC Headphones');
    expect(screen.getByTestId('product-price')).toHaveTextContent('€49.00');
    expect(screen.getByTestId('product-description')).toHaveTextContent('40 hours of battery');
    expect(screen.getByRole('img', { name: 'Aurora ANC Headphones' })).toHaveAttribute(
      'src',
      '/flash-sale/images/aurora.svg',
    );
    expect(screen.queryByTestId('product-picker')).not.toBeInTheDocument();
    expect(screen.queryByRole('radio')).not.toBeInTheDocument();
    expect(screen.getByTestId('stock-remaining')).toHaveTextContent('37');
    expect(buyButton()).toBeEnabled();

    await buyAs('alice');
    const outcome = await screen.findByTestId('purchase-outcome');
    expect(outcome).toHaveTextContent('Aurora ANC Headphones is yours');
    expect(postedBody(calls)).toEqual({ userId: 'alice', sku: 'aurora-anc' });
  });

  it('shows a neutral placeholder when the product has no picture, or it fails to load', () => {
    const { push } = renderShop({ ...OPEN_STATUS, products: [{ ...AURORA, imageUrl: null }] });
    expect(screen.queryByRole('img', { name: 'Aurora ANC Headphones' })).not.toBeInTheDocument();
    expect(screen.getByTestId('product-image-placeholder')).toBeInTheDocument();

    push(OPEN_STATUS);
    const picture = screen.getByTestId('product-image');
    fireEvent.error(picture);
    expect(screen.queryByTestId('product-image')).not.toBeInTheDocument();
    expect(screen.getByTestId('product-image-placeholder')).toBeInTheDocument();
  });

  it('still sells on a server without a catalogue, and sends no sku', async () => {
    const { calls } = renderShop(LEGACY_STATUS, purchaseAnswer(json({ outcome: 'confirmed', ...ORDER }, 201), LEGACY_STATUS));
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Flash sale');
    expect(screen.queryByTestId('product-price')).not.toBeInTheDocument();
    expect(screen.getByTestId('product-image-placeholder')).toBeInTheDocument();
    await buyAs('alice');
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent("It's yours: you were number 20 in line");
    expect(postedBody(calls)).toEqual({ userId: 'alice' });
  });
});

describe('Shop with several products', () => {
  it('offers each with its price and live stock, and cannot choose a sold-out one', () => {
    renderShop(TEES);
    const picker = screen.getByRole('group', { name: 'Choose one' });
    expect(within(picker).getAllByRole('radio')).toHaveLength(3);
    expect(radio(/size S/)).toBeDisabled();
    expect(screen.getByTestId('option-tee-s')).toHaveTextContent('Sold out');
    expect(radio(/size M/)).toBeEnabled();
    expect(screen.getByTestId('option-tee-m')).toHaveTextContent('Tee, size M€25.004 left');
    expect(screen.getByTestId('option-tee-l')).toHaveTextContent('€27.50');
    expect(screen.getByTestId('option-tee-l-stock')).toHaveTextContent('7 left');
    // Nothing chosen for the shopper: Buy waits, and says why.
    expect(screen.getAllByRole('radio').filter((input) => (input as HTMLInputElement).checked)).toHaveLength(0);
    expect(buyButton()).toBeDisabled();
    expect(screen.getByTestId('buy-hint')).toHaveTextContent('Choose one above first.');
  });

  it("shows the chosen one's picture, price and description, and sends its sku", async () => {
    const { calls } = renderShop(TEES, purchaseAnswer(json({ outcome: 'confirmed', ...ORDER, sku: 'tee-l' }, 201)));
    const user = userEvent.setup();
    await user.click(radio(/size M/));
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Tee, size M');
    expect(screen.getByRole('img', { name: 'Tee, size M' })).toHaveAttribute('src', '/flash-sale/images/tee-m.png');

    await user.click(radio(/size L/));
    expect(radio(/size L/)).toBeChecked();
    expect(radio(/size M/)).not.toBeChecked();
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Tee, size L');
    expect(screen.getByTestId('product-price')).toHaveTextContent('€27.50');
    expect(screen.getByTestId('product-description')).toHaveTextContent('Cut longer in the back.');
    expect(screen.getByTestId('product-image-placeholder')).toBeInTheDocument();
    expect(buyButton()).toBeEnabled();
    expect(screen.getByTestId('buy-hint')).toHaveTextContent('You are buying Tee, size L.');

    await buyAs('alice');
    const outcome = await screen.findByTestId('purchase-outcome');
    expect(outcome).toHaveTextContent('Order confirmed!');
    expect(outcome).toHaveTextContent('Tee, size L is yours: you were number 20 in line');
    expect(postedBody(calls)).toEqual({ userId: 'alice', sku: 'tee-l' });
  });

  it('keeps the choice across status updates, with the new stock', async () => {
    const { push } = renderShop(TEES);
    await userEvent.setup().click(radio(/size M/));
    push({ ...TEES, remaining: 10, sold: 20, products: [TEE_S, { ...TEE_M, remaining: 3, sold: 7 }, TEE_L] });
    expect(radio(/size M/)).toBeChecked();
    expect(screen.getByTestId('option-tee-m-stock')).toHaveTextContent('3 left');
    expect(buyButton()).toBeEnabled();
  });

  it('says so when the chosen one sells out, and asks for another', async () => {
    const { push } = renderShop(TEES);
    const user = userEvent.setup();
    await user.click(radio(/size M/));
    push({ ...TEES, products: [TEE_S, { ...TEE_M, remaining: 0, sold: 10, state: 'sold_out' }, TEE_L] });
    expect(screen.getByTestId('chosen-sold-out')).toHaveTextContent('Tee, size M has just sold out. Please choose another.');
    expect(radio(/size M/)).toBeDisabled();
    expect(buyButton()).toBeDisabled();

    await user.click(radio(/size L/));
    expect(screen.queryByTestId('chosen-sold-out')).not.toBeInTheDocument();
    expect(buyButton()).toBeEnabled();
  });

  it.each([
    [
      410,
      { title: 'Sold out', outcome: 'sold_out', sku: 'tee-m' },
      'sold_out',
      'Tee, size M has sold out. Others may still be in stock',
    ],
    [
      409,
      { outcome: 'already_purchased', title: 'Already purchased', ...ORDER, sku: 'tee-l' },
      'already_purchased',
      'Your order o-9 for Tee, size L (number 20 in line) stands.',
    ],
    [
      404,
      { title: 'Unknown product', outcome: 'unknown_product', sku: 'tee-m' },
      'unknown_product',
      'Tee, size M is no longer on sale; nothing was bought.',
    ],
    [
      409,
      { outcome: 'already_purchased', title: 'Already purchased', ...ORDER, sku: 'retired-sku' },
      'already_purchased',
      'Your order o-9 for retired-sku',
    ],
  ])('names the product in the HTTP %i message', async (status, body, kind, words) => {
    renderShop(TEES, purchaseAnswer(json(body, status)));
    await userEvent.setup().click(radio(/size M/));
    await buyAs('alice');
    const outcome = await screen.findByTestId('purchase-outcome');
    expect(outcome).toHaveAttribute('data-kind', kind);
    expect(outcome).toHaveTextContent(words);
  });

  it('shows the product of each order found', async () => {
    const first = { ...ORDER, sku: 'tee-m' };
    const second = { ...ORDER, orderId: 'o-10', position: 21, sku: 'tee-l' };
    renderShop(TEES, (url) =>
      url.includes('/flash-sale/purchase/') ? json({ ...first, units: 2, orders: [first, second] }) : json(TEES),
    );
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('User id to look up'), 'alice');
    await user.click(screen.getByRole('button', { name: 'Look up' }));
    const lookup = screen.getByTestId('lookup-result');
    await waitFor(() => expect(lookup).toHaveTextContent('2 orders found'));
    const products = within(lookup).getAllByTestId('lookup-product').map((cell) => cell.textContent);
    expect(products).toEqual(['Tee, size M', 'Tee, size L']);
    expect(lookup).toHaveTextContent('o-10');
  });
});
