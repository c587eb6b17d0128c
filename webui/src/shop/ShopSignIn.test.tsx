import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureTokenFromAddress } from '../lib/shopperToken';
import { installFakeEventSource, latest } from '../test/fakeEventSource';
import { type Handler, header, json, mockFetch, OPEN_STATUS } from '../test/fetchMock';
import { fakeJwt, tokenFor } from '../test/tokens';
import { Shop } from './Shop';

const JWT_STATUS = { ...OPEN_STATUS, auth: { mode: 'jwt', tokenCookie: 'flashsale_token' } };
const ORDER = { orderId: 'o-7', userId: 'alice', position: 7, purchasedAt: '2026-11-24T15:00:01.000Z', saleId: 1 };
const TOKEN_KEY = 'flashsale.shopperToken';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
  window.history.replaceState(null, '', '/');
});

const shopper = () => screen.getByTestId('shopper');
const buyButton = () => screen.getByTestId('buy-button');

/** The shop page on a server in `status`'s mode, its status pushed by the stream. */
function renderShop(handler: Handler = () => json({}, 500), status: object = JWT_STATUS) {
  const sources = installFakeEventSource();
  const calls = mockFetch(handler);
  render(<Shop pollMs={60_000} />);
  act(() => latest(sources).pushStatus(status));
  return calls;
}

function purchaseHandler(answer: () => Response): Handler {
  return (url) => (url.endsWith('/flash-sale/purchase') ? answer() : json(JWT_STATUS));
}

describe('Shop with the shop sign-in (jwt mode)', () => {
  it('takes the token from a #token= link, shows who is signed in and asks for no user id', () => {
    const token = tokenFor('alice');
    window.history.replaceState(null, '', `/#token=${token}`);
    captureTokenFromAddress();
    renderShop();
    expect(window.location.hash).toBe('');
    expect(shopper()).toHaveAttribute('data-state', 'signed_in');
    expect(shopper()).toHaveTextContent('Signed in as alice');
    expect(screen.queryByLabelText('Your user id')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('User id to look up')).not.toBeInTheDocument();
    expect(screen.queryByRole('textbox')).not.toBeInTheDocument();
    expect(buyButton()).toBeEnabled();
    expect(buyButton()).toHaveAccessibleDescription(/Signed in as alice/);
  });

  it('takes the token from the cookie the server names', () => {
    document.cookie = `shop_session=${tokenFor('bob')}; path=/`;
    renderShop(undefined, { ...JWT_STATUS, auth: { mode: 'jwt', tokenCookie: 'shop_session' } });
    expect(shopper()).toHaveTextContent('Signed in as bob');
    expect(buyButton()).toBeEnabled();
  });

  it('asks to sign in, with Buy off, when there is no token', () => {
    const calls = renderShop();
    expect(shopper()).toHaveAttribute('data-state', 'missing');
    expect(shopper()).toHaveTextContent('Sign in to the shop to buy');
    expect(buyButton()).toBeDisabled();
    expect(buyButton()).toHaveAccessibleDescription(/Sign in to the shop to buy/);
    expect(screen.getByTestId('lookup-button')).toBeDisabled();
    expect(screen.queryByRole('textbox')).not.toBeInTheDocument();
    expect(calls).toHaveLength(0);
  });

  it('says the sign-in has expired, with Buy off, when exp is past by this clock', () => {
    window.sessionStorage.setItem(TOKEN_KEY, tokenFor('alice', -5));
    renderShop();
    expect(shopper()).toHaveAttribute('data-state', 'expired');
    expect(shopper()).toHaveTextContent('Your sign-in has expired');
    expect(buyButton()).toBeDisabled();
  });

  it('turns Buy off when the token expires while the page is open', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    window.sessionStorage.setItem(TOKEN_KEY, tokenFor('alice', 30));
    renderShop();
    expect(shopper()).toHaveTextContent('Signed in as alice');
    await act(() => vi.advanceTimersByTimeAsync(31_000));
    expect(shopper()).toHaveAttribute('data-state', 'expired');
    expect(buyButton()).toBeDisabled();
  });

  it('prefers a fresh cookie to an expired link token', () => {
    window.sessionStorage.setItem(TOKEN_KEY, tokenFor('old', -5));
    document.cookie = `flashsale_token=${tokenFor('new')}; path=/`;
    renderShop();
    expect(shopper()).toHaveTextContent('Signed in as new');
  });

  it('says so when the token cannot be read', () => {
    window.sessionStorage.setItem(TOKEN_KEY, fakeJwt({ exp: 2_000_000_000 }));
    renderShop();
    expect(shopper()).toHaveAttribute('data-state', 'rejected');
    expect(buyButton()).toBeDisabled();
  });

  it('buys with the bearer token and no user id in the body, and shows the confirmation', async () => {
    const token = tokenFor('alice');
    window.sessionStorage.setItem(TOKEN_KEY, token);
    const calls = renderShop(purchaseHandler(() => json({ outcome: 'confirmed', ...ORDER }, 201)));
    await userEvent.setup().click(screen.getByRole('button', { name: 'Buy now' }));
    expect(await screen.findByTestId('purchase-outcome')).toHaveTextContent('Order confirmed!');
    const buy = calls.find((call) => call.url === '/flash-sale/purchase');
    expect(buy?.init?.method).toBe('POST');
    expect(header(buy, 'Authorization')).toBe(`Bearer ${token}`);
    // The buyer is the token's; the body names only the product shown.
    expect(JSON.parse(buy?.init?.body as string)).toEqual({ sku: 'aurora-anc' });
    expect(window.localStorage.length).toBe(0); // no user id remembered
  });

  it("shows a 401's detail and turns Buy off", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, tokenFor('alice'));
    renderShop(
      purchaseHandler(() => json({ title: 'Invalid token', detail: 'the token has been revoked' }, 401)),
    );
    await userEvent.setup().click(screen.getByRole('button', { name: 'Buy now' }));
    await waitFor(() => expect(shopper()).toHaveAttribute('data-state', 'rejected'));
    expect(shopper()).toHaveTextContent('Your sign-in was not accepted');
    expect(shopper()).toHaveTextContent('The token has been revoked. Sign in to the shop again to buy.');
    expect(screen.queryByTestId('purchase-outcome')).not.toBeInTheDocument();
    expect(buyButton()).toBeDisabled();
  });

  it("shows a 403's detail", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, tokenFor('alice'));
    renderShop(purchaseHandler(() => json({ title: 'Not your id', detail: 'that is not your id' }, 403)));
    await userEvent.setup().click(screen.getByRole('button', { name: 'Buy now' }));
    const outcome = await screen.findByTestId('purchase-outcome');
    expect(outcome).toHaveAttribute('data-kind', 'forbidden');
    expect(outcome).toHaveTextContent('That is not your id.');
  });

  it('looks the order up at /purchase/me with the token', async () => {
    const token = tokenFor('alice');
    window.sessionStorage.setItem(TOKEN_KEY, token);
    const calls = renderShop((url) => (url.endsWith('/purchase/me') ? json(ORDER) : json({}, 404)));
    await userEvent.setup().click(screen.getByRole('button', { name: 'Look up my order' }));
    expect(await screen.findByTestId('lookup-result')).toHaveTextContent('o-7');
    expect(calls.map((call) => call.url)).toEqual(['/flash-sale/purchase/me']);
    expect(header(calls[0], 'Authorization')).toBe(`Bearer ${token}`);
  });

  it("shows a look-up's 401 detail, and turns Buy off", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, tokenFor('alice'));
    renderShop(() => json({ title: 'Invalid token', detail: 'the token has expired' }, 401));
    await userEvent.setup().click(screen.getByRole('button', { name: 'Look up my order' }));
    expect(await screen.findByTestId('lookup-result')).toHaveTextContent('The token has expired.');
    expect(shopper()).toHaveAttribute('data-state', 'rejected');
    expect(buyButton()).toBeDisabled();
  });
});

describe('Shop before and without the sign-in', () => {
  it('offers nothing to buy with until the first status says the mode', () => {
    installFakeEventSource();
    mockFetch(() => json({}, 500));
    render(<Shop pollMs={60_000} />);
    expect(shopper()).toHaveAttribute('data-state', 'unknown');
    expect(screen.queryByRole('textbox')).not.toBeInTheDocument();
    expect(buyButton()).toBeDisabled();
  });

  it.each([
    ['an older server (no auth)', OPEN_STATUS],
    ['open mode', { ...OPEN_STATUS, auth: { mode: 'open', tokenCookie: null } }],
  ])('asks for a user id on %s, and ignores a token', (_, status) => {
    window.sessionStorage.setItem(TOKEN_KEY, tokenFor('alice'));
    renderShop(undefined, status);
    expect(screen.queryByTestId('shopper')).not.toBeInTheDocument();
    expect(screen.getByLabelText('Your user id')).toBeInTheDocument();
    expect(screen.getByLabelText('User id to look up')).toBeInTheDocument();
    expect(buyButton()).toBeEnabled();
  });
});
