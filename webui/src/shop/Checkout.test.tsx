import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AURORA, type Call, header, json, mockFetch, OPEN_AUTH, OPEN_STATUS, problem } from '../test/fetchMock';
import { Shop } from './Shop';

afterEach(() => {
  vi.unstubAllGlobals();
});

const ORDER_ID = '3f0c9a8e-2b71-4c55-9d0e-7a1b2c3d4e5f';
const CHECKOUT = { holdSeconds: 600, extendSeconds: 0 };
// This browser's clock is 1 hour behind the server's: the countdown must use the server's.
const SKEW_MS = 3_600_000;

interface ProductFigures {
  remaining: number;
  sold: number;
  held: number;
  state?: 'open' | 'sold_out';
}

function status(product: ProductFigures, offers = 0) {
  const serverNow = Date.now() + SKEW_MS;
  return {
    ...OPEN_STATUS,
    auth: OPEN_AUTH,
    checkout: CHECKOUT,
    remaining: product.remaining,
    sold: product.sold,
    state: product.state ?? 'open',
    held: product.held,
    waitlist: 0,
    offers,
    products: [{ ...AURORA, waitlist: 0, ...product, state: product.state ?? 'open' }],
    serverTime: new Date(serverNow).toISOString(),
  };
}

function heldAnswer(leftMs: number) {
  return {
    outcome: 'held',
    orderId: ORDER_ID,
    userId: 'alice',
    sku: AURORA.sku,
    position: 7,
    purchasedAt: new Date().toISOString(),
    saleId: 1,
    expiresAt: new Date(Date.now() + SKEW_MS + leftMs).toISOString(),
    checkoutToken: 'checkout-token-of-alice',
  };
}

async function buyAsAlice() {
  const user = userEvent.setup();
  await user.type(await screen.findByTestId('buy-user-id'), 'alice');
  await waitFor(() => expect(screen.getByTestId('buy-button')).toBeEnabled());
  await user.click(screen.getByTestId('buy-button'));
  return user;
}

const confirmCall = (calls: Call[]) => calls.find((call) => call.url.endsWith(`/orders/${ORDER_ID}/confirm`));

describe('Checkout', () => {
  it('counts a won hold down in server time, pays with a demo paymentRef and the checkout token, and says it is confirmed', async () => {
    const calls = mockFetch((url, init) => {
      if (url.endsWith('/status')) return json(status({ remaining: 36, sold: 64, held: 1 }));
      if (url.endsWith('/purchase')) return json(heldAnswer(581_500), 201);
      if (url.endsWith('/confirm')) {
        const { paymentRef } = JSON.parse(String(init?.body)) as { paymentRef: string };
        return json({ ...heldAnswer(0), outcome: 'confirmed', state: 'confirmed', paymentRef });
      }
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    const user = await buyAsAlice();
    const hold = await screen.findByTestId('hold');
    // The checkout says it, not a Buy message that would go stale when the hold ends.
    expect(screen.queryByTestId('purchase-outcome')).toBeNull();
    expect(hold).toHaveAttribute('data-kind', 'held');
    // Counted from the answer: a slow machine may show a second or more gone.
    expect(hold).toHaveTextContent(/Held for you, 9:[0-9]{2} left/);

    await user.click(screen.getByTestId('pay-button'));
    await waitFor(() => expect(screen.getByTestId('hold')).toHaveAttribute('data-kind', 'confirmed'));
    const confirm = confirmCall(calls);
    expect(header(confirm, 'Authorization')).toBe('Bearer checkout-token-of-alice');
    const { paymentRef } = JSON.parse(String(confirm?.init?.body)) as { paymentRef: string };
    expect(paymentRef).toMatch(/^demo-[0-9a-f]{12}$/);
    expect(screen.getByTestId('hold')).toHaveTextContent(`Order ${ORDER_ID} is confirmed (payment ${paymentRef})`);
    // The token is the tab's: kept in sessionStorage, never in localStorage.
    expect(window.sessionStorage.getItem('flashsale.checkout')).toContain('checkout-token-of-alice');
    expect(JSON.stringify({ ...window.localStorage })).not.toContain('checkout-token-of-alice');
  });

  it('says the hold expired when its time passes unpaid', async () => {
    mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ remaining: 36, sold: 64, held: 1 }));
      if (url.endsWith('/purchase')) return json(heldAnswer(1_200), 201);
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    await buyAsAlice();
    expect(await screen.findByTestId('hold')).toHaveAttribute('data-kind', 'held');
    await waitFor(() => expect(screen.getByTestId('hold')).toHaveAttribute('data-kind', 'expired'), {
      timeout: 4000,
    });
    expect(screen.getByTestId('hold')).toHaveTextContent('Your hold expired; the unit went to the next shopper');
    expect(screen.queryByTestId('pay-button')).toBeNull();
  });

  it('says the hold expired when the server refuses a late payment', async () => {
    mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ remaining: 36, sold: 64, held: 1 }));
      if (url.endsWith('/purchase')) return json(heldAnswer(300_000), 201);
      if (url.endsWith('/confirm')) {
        return problem('/problems/hold-expired', 'Hold expired', 409, 'Hold expired', {}, {
          outcome: 'hold_expired',
          refundRequired: true,
        });
      }
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    const user = await buyAsAlice();
    await user.click(await screen.findByTestId('pay-button'));
    await waitFor(() => expect(screen.getByTestId('hold')).toHaveAttribute('data-kind', 'expired'));
  });

  it('keeps the hold for the tab: a reloaded page still counts down and pays', async () => {
    mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ remaining: 36, sold: 64, held: 1 }));
      if (url.endsWith('/purchase')) return json(heldAnswer(120_000), 201);
      return json({}, 404);
    });
    const first = render(<Shop pollMs={60_000} />);
    await buyAsAlice();
    await screen.findByTestId('pay-button');
    first.unmount();
    render(<Shop pollMs={60_000} />);
    expect(await screen.findByTestId('hold')).toHaveTextContent(/Held for you, (1:59|2:00) left/);
  });

  it('joins the waitlist of a product sold out with holds, shows the place, and shows the unit offered as a hold', async () => {
    let offers = 0;
    let offered = false;
    const calls = mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ remaining: 0, sold: 100, state: 'sold_out', held: 1 }, offers));
      if (url.endsWith('/purchase')) {
        return problem('/problems/sold-out', 'Sold out', 410, 'every item has been sold', {}, {
          outcome: 'sold_out',
          sku: AURORA.sku,
          held: 1,
          waitlist: { open: true, length: 0 },
        });
      }
      if (url.endsWith('/waitlist')) {
        return json({ sku: AURORA.sku, place: 1, state: 'waiting', waitlistToken: 'waitlist-token-of-alice' }, 201);
      }
      if (url.endsWith(`/waitlist/${AURORA.sku}`)) {
        if (!offered) return json({ sku: AURORA.sku, place: 1, state: 'waiting' });
        return json({
          sku: AURORA.sku,
          place: 1,
          state: 'offered',
          orderId: ORDER_ID,
          hold: {
            orderId: ORDER_ID,
            state: 'held',
            expiresAt: new Date(Date.now() + SKEW_MS + 300_000).toISOString(),
            checkoutToken: 'offered-token',
          },
        });
      }
      return json({}, 404);
    });
    render(<Shop pollMs={20} />);
    const user = await buyAsAlice();
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent('Join the waitlist');
    await user.click(await screen.findByTestId('join-waitlist'));
    expect(await screen.findByTestId('waitlist')).toHaveTextContent('You are number 1 on the waitlist');
    // The checkout tells the rest: the sold-out message is gone.
    expect(screen.queryByTestId('purchase-outcome')).toBeNull();
    const join = calls.find((call) => call.url.endsWith('/waitlist'));
    expect(JSON.parse(String(join?.init?.body))).toEqual({ userId: 'alice', sku: AURORA.sku });

    // Someone's hold ran out: the status counts an offer, and the page reads its entry.
    offered = true;
    offers = 1;
    const hold = await screen.findByTestId('hold', {}, { timeout: 3000 });
    expect(hold).toHaveTextContent(/Held for you, (4:59|5:00|5:01) left/);
    expect(hold).toHaveTextContent('A unit came back');
    const read = calls.find((call) => call.url.endsWith(`/waitlist/${AURORA.sku}`));
    expect(header(read, 'Authorization')).toBe('Bearer waitlist-token-of-alice');
    expect(screen.queryByTestId('join-waitlist')).toBeNull();
  });

  it('lets a shopper who finds the page sold out join with the id they type', async () => {
    const calls = mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ remaining: 0, sold: 100, state: 'sold_out', held: 2 }));
      if (url.endsWith('/waitlist')) {
        return json({ sku: AURORA.sku, place: 3, state: 'waiting', waitlistToken: 'waitlist-token-of-bob' }, 201);
      }
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    const join = await screen.findByTestId('join-waitlist');
    expect(join).toBeDisabled();
    expect(screen.getByTestId('sale-state')).toHaveTextContent('2 of 100 held for shoppers who have not paid yet');
    expect(screen.getByTestId('stock')).toHaveTextContent('100 sold · 2 held');
    const user = userEvent.setup();
    await user.type(screen.getByTestId('buy-user-id'), 'bob');
    await user.click(join);
    expect(await screen.findByTestId('waitlist')).toHaveTextContent('You are number 3 on the waitlist');
    const joined = calls.find((call) => call.url.endsWith('/waitlist'));
    expect(JSON.parse(String(joined?.init?.body))).toEqual({ userId: 'bob', sku: AURORA.sku });
  });

  it('offers no waitlist while nothing is held', async () => {
    mockFetch((url) => {
      if (url.endsWith('/status')) return json(status({ remaining: 0, sold: 100, state: 'sold_out', held: 0 }));
      return json({}, 404);
    });
    render(<Shop pollMs={60_000} />);
    await waitFor(() => expect(screen.getByTestId('sale-state')).toHaveAttribute('data-state', 'sold_out'));
    expect(screen.queryByTestId('join-waitlist')).toBeNull();
  });
});
