import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SaleResource } from '../lib/types';
import { header, json, mockFetch, problem, type Call } from '../test/fetchMock';
import { Admin } from './Admin';
import { AuditTrail } from './AuditTrail';
import { OrdersPanel } from './OrdersPanel';

const TOKEN = 'admin-secret-1';
const POLL_MS = 60_000; // the tests read again by acting, not by waiting

afterEach(() => vi.unstubAllGlobals());

function sale(overrides: Partial<SaleResource> = {}): SaleResource {
  return {
    saleId: 2,
    state: 'open',
    phase: 'active',
    version: 1,
    total: 150,
    sold: 1,
    remaining: 149,
    perUserLimit: 1,
    startsAt: null,
    endsAt: null,
    createdAt: '2026-12-06T08:12:40.940Z',
    endedAt: null,
    pausedAt: null,
    checkout: null,
    products: [
      {
        sku: 'aurora-anc',
        name: 'Aurora ANC Headphones',
        description: '',
        priceCents: 4900,
        currency: 'EUR',
        imageUrl: null,
        perUserLimit: null,
        stock: 100,
        total: 100,
        sold: 1,
        remaining: 99,
        state: 'open',
      },
    ],
    etag: '"sale-2-v1"',
    ...overrides,
  };
}

const EMPTY_PAGE = { orders: [], next: null };
const EMPTY_AUDIT = { entries: [], next: null };

/** A server of one open sale; `extra` answers first (null: not its request). */
function server(
  extra: (url: string, init: RequestInit | undefined) => Response | null = () => null,
  sales: () => SaleResource[] = () => [sale()],
): Call[] {
  return mockFetch((url, init) => {
    if (header({ url, init }, 'Authorization') !== `Bearer ${TOKEN}`) {
      return problem('/problems/invalid-token', 'Invalid token', 401, 'wrong admin token');
    }
    const answered = extra(url, init);
    if (answered) return answered;
    if (url.endsWith('/admin/sales') && (init?.method ?? 'GET') === 'GET') {
      return json({ sales: sales() });
    }
    if (url.includes('/orders?')) return json(EMPTY_PAGE);
    if (url.includes('/audit?')) return json(EMPTY_AUDIT);
    return json({}, 500);
  });
}

function signedIn() {
  window.sessionStorage.setItem('flashsale.adminToken', TOKEN);
}

describe('Admin sign-in', () => {
  it('shows the 401 problem for a wrong token, keeps a right one for the tab only', async () => {
    server();
    const user = userEvent.setup();
    render(<Admin pollMs={POLL_MS} />);
    await user.type(screen.getByLabelText('Admin token'), 'not-it');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    const refused = await screen.findByTestId('sign-in-problem');
    expect(refused).toHaveTextContent('Invalid token');
    expect(refused).toHaveTextContent('wrong admin token');
    expect(refused).toHaveTextContent('401');
    expect(window.sessionStorage.getItem('flashsale.adminToken')).toBeNull();

    await user.clear(screen.getByLabelText('Admin token'));
    await user.type(screen.getByLabelText('Admin token'), TOKEN);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByTestId('sales-table')).toHaveTextContent('Aurora ANC Headphones');
    expect(window.sessionStorage.getItem('flashsale.adminToken')).toBe(TOKEN);
    expect(window.localStorage.getItem('flashsale.adminToken')).toBeNull();
  });
});

describe('Admin new sale', () => {
  async function fillOneProduct(user: ReturnType<typeof userEvent.setup>, sku = 'lumen-lamp') {
    const row = screen.getByTestId('product-row-0');
    await user.type(within(row).getByLabelText('SKU'), sku);
    await user.type(within(row).getByLabelText('Name'), 'Lumen Desk Lamp');
    await user.type(within(row).getByLabelText('Price'), '29.90');
    await user.type(within(row).getByLabelText('Stock'), '50');
  }

  it('sends the products as the API takes them, and shows a refusal at its field', async () => {
    signedIn();
    const calls = server((_url, init) =>
      init?.method === 'POST'
        ? problem('/problems/invalid-sale', 'Invalid sale', 400, "products[0].sku must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
        : null,
    );
    const user = userEvent.setup();
    render(<Admin pollMs={POLL_MS} />);
    await screen.findByTestId('sales-table');
    await fillOneProduct(user, 'bad sku');
    await user.click(screen.getByRole('button', { name: 'Start the sale' }));

    const sku = within(screen.getByTestId('product-row-0')).getByLabelText('SKU');
    await waitFor(() => expect(sku).toHaveAttribute('aria-invalid', 'true'));
    expect(sku).toHaveAccessibleDescription(/products\[0\]\.sku must be/);
    const post = calls.find((call) => call.init?.method === 'POST');
    expect(JSON.parse(String(post?.init?.body))).toEqual({
      products: [
        { sku: 'bad sku', name: 'Lumen Desk Lamp', priceCents: 2990, currency: 'EUR', stock: 50 },
      ],
      perUserLimit: 1,
    });
    expect(header(post, 'Idempotency-Key')).toBeTruthy();
    expect(header(post, 'If-Match')).toBeUndefined();
  });

  it('sends a payment window in minutes as checkout seconds, and shows the window of the sale made', async () => {
    signedIn();
    const calls = server((_url, init) =>
      init?.method === 'POST'
        ? json(sale({ saleId: 3, checkout: { holdSeconds: 600, extendSeconds: 300 } }), 201)
        : null,
    );
    const user = userEvent.setup();
    render(<Admin pollMs={POLL_MS} />);
    await screen.findByTestId('sales-table');
    await fillOneProduct(user);
    await user.type(screen.getByLabelText('Payment window'), '10');
    await user.type(screen.getByLabelText('Extension'), '5');
    await user.click(screen.getByRole('button', { name: 'Start the sale' }));

    expect(await screen.findByTestId('made-window')).toHaveTextContent(
      'Payment window: 10 min, extendable once by 5 min.',
    );
    const post = calls.find((call) => call.init?.method === 'POST');
    expect(JSON.parse(String(post?.init?.body))).toMatchObject({
      checkout: { holdSeconds: 600, extendSeconds: 300 },
    });
  });

  it('sends seconds as typed, no checkout when the window is empty, and shows a refused window at its field', async () => {
    signedIn();
    const calls = server((_url, init) =>
      init?.method === 'POST'
        ? problem('/problems/invalid-sale', 'Invalid holdSeconds', 400, 'holdSeconds must be within [1, 86400]')
        : null,
    );
    const user = userEvent.setup();
    render(<Admin pollMs={POLL_MS} />);
    await screen.findByTestId('sales-table');
    await fillOneProduct(user);
    await user.click(screen.getByRole('button', { name: 'Start the sale' }));
    await waitFor(() => expect(calls.filter((call) => call.init?.method === 'POST')).toHaveLength(1));
    expect(JSON.parse(String(calls.find((call) => call.init?.method === 'POST')?.init?.body))).not.toHaveProperty(
      'checkout',
    );

    await user.selectOptions(screen.getByLabelText('Unit'), 'seconds');
    await user.type(screen.getByLabelText('Payment window'), '0');
    await user.click(screen.getByRole('button', { name: 'Start the sale' }));
    const hold = screen.getByLabelText('Payment window');
    await waitFor(() => expect(hold).toHaveAttribute('aria-invalid', 'true'));
    expect(hold).toHaveAccessibleDescription(/holdSeconds must be within/);
    const posts = calls.filter((call) => call.init?.method === 'POST');
    expect(JSON.parse(String(posts[1]?.init?.body)).checkout).toEqual({ holdSeconds: 0, extendSeconds: 0 });
  });

  it('offers to replace a sale in progress, resending with If-Match of its etag', async () => {
    signedIn();
    let made = false;
    const calls = server((url, init) => {
      if (init?.method !== 'POST') return null;
      if (header({ url, init }, 'If-Match') === '"sale-2-v1"') {
        made = true;
        return json(sale({ saleId: 3, etag: '"sale-3-v1"', sold: 0 }), 201, { ETag: '"sale-3-v1"' });
      }
      return problem(
        '/problems/sale-in-progress',
        'Sale in progress',
        409,
        'sale 2 is open: end it first, or replace it (If-Match: "sale-2-v1", or "replaces": 2)',
        {},
        { saleId: 2, state: 'open', etag: '"sale-2-v1"' },
      );
    }, () => (made ? [sale({ saleId: 3, etag: '"sale-3-v1"' }), sale({ state: 'ended' })] : [sale()]));
    const user = userEvent.setup();
    render(<Admin pollMs={POLL_MS} />);
    await screen.findByTestId('sales-table');
    await fillOneProduct(user);
    await user.click(screen.getByRole('button', { name: 'Start the sale' }));
    expect(await screen.findByTestId('sale-refused')).toHaveTextContent('Sale in progress');

    await user.click(screen.getByRole('button', { name: 'Replace it' }));
    expect(await screen.findByTestId('sale-made')).toHaveTextContent('Sale 3 made');
    const posts = calls.filter((call) => call.init?.method === 'POST');
    expect(posts).toHaveLength(2);
    expect(header(posts[1], 'If-Match')).toBe('"sale-2-v1"');
    expect(header(posts[1], 'Idempotency-Key')).not.toBe(header(posts[0], 'Idempotency-Key'));
    await waitFor(() => expect(screen.getByTestId('sale-row-3')).toBeInTheDocument());
  });
});

describe('Admin controls of the current sale', () => {
  it('shows the current sale’s payment window, or none', async () => {
    signedIn();
    server(undefined, () => [sale({ checkout: { holdSeconds: 90, extendSeconds: 0 } })]);
    render(<Admin pollMs={POLL_MS} />);
    expect(await screen.findByTestId('current-window')).toHaveTextContent('1 min 30 s, not extendable');
    expect(await screen.findByTestId('orders-panel')).toBeInTheDocument();
  });

  it('asks before pausing; Cancel sends nothing, Pause sends PATCH with If-Match', async () => {
    signedIn();
    let paused = false;
    const calls = server((_url, init) => {
      if (init?.method !== 'PATCH') return null;
      paused = true;
      return json(sale({ state: 'paused', phase: 'paused', version: 2, etag: '"sale-2-v2"' }));
    }, () => [paused ? sale({ state: 'paused', phase: 'paused', version: 2, etag: '"sale-2-v2"' }) : sale()]);
    const user = userEvent.setup();
    render(<Admin pollMs={POLL_MS} />);
    const current = await screen.findByTestId('current-sale');

    await user.click(within(current).getByRole('button', { name: 'Pause' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Pause the sale?' });
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(calls.some((call) => call.init?.method === 'PATCH')).toBe(false);

    await user.click(within(current).getByRole('button', { name: 'Pause' }));
    await user.click(
      within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Pause' }),
    );
    await waitFor(() =>
      expect(within(screen.getByTestId('current-sale')).getByTestId('state-badge')).toHaveTextContent(
        'Paused',
      ),
    );
    const patch = calls.find((call) => call.init?.method === 'PATCH');
    expect(patch?.url).toBe('/flash-sale/admin/sales/2');
    expect(JSON.parse(String(patch?.init?.body))).toEqual({ state: 'paused' });
    expect(header(patch, 'If-Match')).toBe('"sale-2-v1"');
    expect(within(screen.getByTestId('current-sale')).getByRole('button', { name: 'Resume' })).toBeInTheDocument();
  });

  it('shows a refusal of the change (412: changed meanwhile)', async () => {
    signedIn();
    server((_url, init) =>
      init?.method === 'PATCH'
        ? problem('/problems/precondition-failed', 'Precondition failed', 412, 'the current sale is 2 at "sale-2-v2": If-Match or replaces named another; nothing was changed')
        : null,
    );
    const user = userEvent.setup();
    render(<Admin pollMs={POLL_MS} />);
    const current = await screen.findByTestId('current-sale');
    await user.click(within(current).getByRole('button', { name: 'End now' }));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'End now' }));
    expect(await screen.findByTestId('change-refused')).toHaveTextContent('Precondition failed');
  });
});

describe('OrdersPanel', () => {
  const ORDER = (position: number) => ({
    orderId: `order-${position}`,
    userId: `user-${position}`,
    sku: 'aurora-anc',
    position,
    purchasedAt: '2026-12-06T08:12:41.000Z',
    state: 'confirmed' as const,
    paymentRef: null,
  });

  it('shows no State column for a sale without checkout (every order is confirmed)', async () => {
    mockFetch(() => json({ orders: [ORDER(1)], next: null }));
    render(<OrdersPanel token={TOKEN} saleId={2} />);
    const table = await screen.findByTestId('orders-table');
    expect(within(table).queryByRole('columnheader', { name: 'State' })).toBeNull();
    expect(within(table).queryByTestId('order-state')).toBeNull();
  });

  it('shows each order’s state and a confirmed hold’s payment reference for a checkout sale', async () => {
    mockFetch(() =>
      json({
        orders: [
          { ...ORDER(1), paymentRef: 'pay-77' },
          { ...ORDER(2), state: 'held' },
          { ...ORDER(3), state: 'expired' },
          { ...ORDER(4), state: 'cancelled' },
        ],
        next: null,
      }),
    );
    render(<OrdersPanel token={TOKEN} saleId={2} checkout />);
    const table = await screen.findByTestId('orders-table');
    expect(within(table).getByRole('columnheader', { name: 'State' })).toBeInTheDocument();
    expect(within(table).getByRole('columnheader', { name: 'Payment' })).toHaveClass('wide-only');
    const states = within(table).getAllByTestId('order-state');
    expect(states.map((badge) => badge.textContent)).toEqual(['Confirmed', 'Held', 'Expired', 'Cancelled']);
    expect(states.map((badge) => badge.dataset.state)).toEqual(['confirmed', 'held', 'expired', 'cancelled']);
    const refs = within(table).getAllByTestId('payment-ref');
    expect(refs.map((cell) => cell.textContent)).toEqual(['pay-77', '—', '—', '—']);
  });

  it('reads the page again when refreshKey changes (a hold confirmed: sold unchanged)', async () => {
    let state: 'held' | 'confirmed' = 'held';
    const calls = mockFetch(() => json({ orders: [{ ...ORDER(1), state }], next: null }));
    const { rerender } = render(<OrdersPanel token={TOKEN} saleId={2} sold={1} checkout refreshKey={1} />);
    expect(await screen.findByTestId('order-state')).toHaveTextContent('Held');
    state = 'confirmed';
    rerender(<OrdersPanel token={TOKEN} saleId={2} sold={1} checkout refreshKey={2} />);
    await waitFor(() => expect(screen.getByTestId('order-state')).toHaveTextContent('Confirmed'));
    expect(calls).toHaveLength(2);
  });

  it('pages with the next cursor, back and forth', async () => {
    const calls = mockFetch((url) => {
      const after = new URL(url, 'http://x').searchParams.get('after');
      return json(after === 'c2' ? { orders: [ORDER(3)], next: null } : { orders: [ORDER(1), ORDER(2)], next: 'c2' });
    });
    const user = userEvent.setup();
    render(<OrdersPanel token={TOKEN} saleId={2} pageSize={2} />);
    expect(await screen.findByTestId('orders-table')).toHaveTextContent('user-2');
    expect(calls[0]?.url).toBe('/flash-sale/admin/sales/2/orders?limit=2');
    expect(header(calls[0], 'Authorization')).toBe(`Bearer ${TOKEN}`);

    await user.click(screen.getByRole('button', { name: 'Next' }));
    await waitFor(() => expect(screen.getByTestId('orders-table')).toHaveTextContent('user-3'));
    expect(calls[1]?.url).toBe('/flash-sale/admin/sales/2/orders?limit=2&after=c2');
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled();
    await user.click(screen.getByRole('button', { name: 'Previous' }));
    await waitFor(() => expect(screen.getByTestId('orders-table')).toHaveTextContent('user-1'));
  });

  it('downloads the CSV with the bearer token and saves it under the server’s name', async () => {
    const csv = 'orderId,userId,sku,position,purchasedAt\r\norder-1,user-1,aurora-anc,1,2026-12-06T08:12:41.000Z\r\n';
    const calls = mockFetch((url) =>
      url.endsWith('orders.csv')
        ? new Response(csv, {
            headers: {
              'Content-Type': 'text/csv; charset=utf-8',
              'Content-Disposition': 'attachment; filename="sale-2-orders.csv"',
            },
          })
        : json(EMPTY_PAGE),
    );
    const created = vi.fn((blob: Blob) => {
      void blob;
      return 'blob:csv';
    });
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }));
    const clicked: HTMLAnchorElement[] = [];
    const click = vi
      .spyOn(HTMLAnchorElement.prototype, 'click')
      .mockImplementation(function (this: HTMLAnchorElement) {
        clicked.push(this);
      });
    const user = userEvent.setup();
    render(<OrdersPanel token={TOKEN} saleId={2} />);
    expect(await screen.findByTestId('no-orders')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Download CSV' }));
    await waitFor(() => expect(clicked).toHaveLength(1));
    const csvCall = calls.find((call) => call.url.endsWith('orders.csv'));
    expect(header(csvCall, 'Authorization')).toBe(`Bearer ${TOKEN}`);
    expect(clicked[0]?.download).toBe('sale-2-orders.csv');
    expect(clicked[0]?.href).toBe('blob:csv');
    expect(await (created.mock.calls[0]?.[0] as Blob).text()).toBe(csv);
    click.mockRestore();
  });
});

describe('AuditTrail', () => {
  it('lists the entries, refusals marked, and pages with next', async () => {
    const entry = (seq: number, action: string, outcome = 'ok', status = 200) => ({
      seq,
      at: '2026-12-06T08:12:40.936Z',
      action,
      attempted: action === 'refused' ? 'create' : action,
      saleId: 2,
      status,
      outcome,
      replayed: false,
      request: { method: 'POST', path: '/flash-sale/admin/sales', body: '{}', bodyTruncated: false, ifMatch: null, idempotencyKey: null },
      address: '127.0.0.1',
      token: 'admin:f957906d',
    });
    const calls = mockFetch((url) =>
      url.includes('after=a2')
        ? json({ entries: [entry(3, 'pause')], next: null })
        : json({ entries: [entry(1, 'refused', '/problems/sale-in-progress', 409), entry(2, 'create', 'ok', 201)], next: 'a2' }),
    );
    const user = userEvent.setup();
    render(<AuditTrail token={TOKEN} refreshKey={0} pageSize={2} />);
    const table = await screen.findByTestId('audit-table');
    expect(table).toHaveTextContent('Refused (create)');
    expect(table).toHaveTextContent('409 sale-in-progress');
    expect(table).toHaveTextContent('201 ok');
    await user.click(screen.getByRole('button', { name: 'Next' }));
    await waitFor(() => expect(screen.getByTestId('audit-table')).toHaveTextContent('Paused'));
    expect(calls[1]?.url).toBe('/flash-sale/admin/audit?limit=2&after=a2');
  });
});
